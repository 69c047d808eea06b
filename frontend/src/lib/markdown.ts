// Markdown for the chat's answers: a model's text is untrusted (a prompt
// injection can make it write anything), so the rendering is safe by
// construction and checked again after:
//
//   - markdown-it with `html: false`: raw HTML in an answer is shown as
//     text, never parsed;
//   - links only to http:, https: and mailto: (anything else — javascript:,
//     data:, file:, vbscript: — stays plain text), opened in a new tab with
//     rel="noopener noreferrer";
//   - images are never loaded from the network: an answer could otherwise
//     send what it read to any server by naming it in an image URL. An
//     image becomes a link with its alt text, which the user may open; only
//     inline raster data (data:image/png|jpeg|gif|webp) is shown, as it
//     costs no request;
//   - code blocks are highlighted by highlight.js core with a handful of
//     languages registered (the bundle stays small), and get a Copy button;
//   - the HTML is then passed through an allow-list of elements and
//     attributes (sanitize), parsed in an inert <template>, so a mistake in
//     the rules above still cannot add a script, a handler or a frame.

import MarkdownIt from 'markdown-it';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const languages = { bash, diff, go, javascript, json, python, rust, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
hljs.registerAliases(['sh', 'shell', 'zsh', 'console'], { languageName: 'bash' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });

/** The languages code blocks are highlighted in (their aliases too: js, ts, py, sh, yml, html, golang, rs...). */
export const highlightedLanguages = Object.keys(languages);

const safeLink = /^(https?:|mailto:)/i;
const inlineImage = /^data:image\/(png|jpe?g|gif|webp);/i;

function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

function highlight(code: string, lang: string): string {
  if (lang && hljs.getLanguage(lang)) {
    try {
      return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    } catch {
      // fall through: plain text
    }
  }
  return escapeHTML(code);
}

function createRenderer() {
  const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false });
  md.validateLink = (url: string) => safeLink.test(url.trim()) || inlineImage.test(url.trim());

  const rules = md.renderer.rules;
  rules.fence = (tokens, idx) => {
    const t = tokens[idx];
    const lang = t.info.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
    const known = !!lang && !!hljs.getLanguage(lang);
    const label = lang ? escapeHTML(lang) : 'text';
    return (
      '<div class="code-block">' +
      `<div class="code-head"><span class="code-lang">${label}</span>` +
      `<button type="button" class="btn small code-copy" data-copy-code aria-label="Copy the ${label} code">Copy</button></div>` +
      `<pre><code class="hljs${known ? ' language-' + escapeHTML(lang) : ''}">${highlight(t.content, lang)}</code></pre></div>\n`
    );
  };
  rules.code_block = (tokens, idx) => `<pre><code>${escapeHTML(tokens[idx].content)}</code></pre>\n`;

  const linkOpen = rules.link_open ?? ((tokens, idx, opts, _env, self) => self.renderToken(tokens, idx, opts));
  rules.link_open = (tokens, idx, opts, env, self) => {
    const t = tokens[idx];
    const href = String(t.attrGet('href') ?? '');
    if (!safeLink.test(href)) t.attrSet('href', '#'); // an inline image's data: URL is no link target
    t.attrSet('target', '_blank');
    t.attrSet('rel', 'noopener noreferrer');
    return linkOpen(tokens, idx, opts, env, self);
  };

  rules.image = (tokens, idx) => {
    const t = tokens[idx];
    const src = String(t.attrGet('src') ?? '');
    const alt = t.children?.map((c) => c.content).join('') || t.content || 'image';
    if (inlineImage.test(src)) return `<img src="${escapeHTML(src)}" alt="${escapeHTML(alt)}">`;
    if (safeLink.test(src)) {
      return `<a href="${escapeHTML(src)}" target="_blank" rel="noopener noreferrer" class="image-link" title="Not loaded: images are not fetched from the network">🖼 ${escapeHTML(alt)}</a>`;
    }
    return `<span class="image-link">🖼 ${escapeHTML(alt)}</span>`;
  };

  // Tables scroll inside the answer instead of widening it.
  rules.table_open = () => '<div class="table-wrap"><table>\n';
  rules.table_close = () => '</table></div>\n';
  return md;
}

let renderer: ReturnType<typeof createRenderer> | null = null;

/** The HTML of a markdown answer: safe to insert with {@html}. */
export function renderMarkdown(text: string): string {
  renderer ??= createRenderer();
  return sanitize(renderer.render(text));
}

// ---- the allow-list -----------------------------------------------------------

const allowedElements = new Set([
  'a', 'b', 'blockquote', 'br', 'button', 'code', 'del', 'div', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'li',
  'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
]);

const allowedAttributes: Record<string, Set<string>> = {
  '*': new Set(['class', 'title']),
  a: new Set(['href', 'target', 'rel']),
  img: new Set(['src', 'alt']),
  button: new Set(['type', 'data-copy-code', 'aria-label']),
  ol: new Set(['start']),
  td: new Set(['style']),
  th: new Set(['style']),
};

/**
 * Keeps only allowed elements and attributes of html. Parsed in a
 * <template>, whose content is inert: nothing loads or runs while it is
 * checked. A disallowed element is dropped with its content; an href or
 * src outside the link rules is removed; a style may only align a cell.
 */
export function sanitize(html: string): string {
  if (typeof document === 'undefined') return html; // only the browser renders; tests run in jsdom
  const tpl = document.createElement('template');
  tpl.innerHTML = html;
  clean(tpl.content);
  return tpl.innerHTML;
}

function clean(node: ParentNode) {
  for (const el of [...node.children]) {
    const tag = el.tagName.toLowerCase();
    if (!allowedElements.has(tag)) {
      el.remove();
      continue;
    }
    for (const attr of [...el.attributes]) {
      const name = attr.name.toLowerCase();
      const ok = allowedAttributes['*'].has(name) || allowedAttributes[tag]?.has(name);
      const value = attr.value.trim();
      if (
        !ok ||
        (name === 'href' && !safeLink.test(value) && value !== '#') ||
        (name === 'src' && !inlineImage.test(value)) ||
        (name === 'style' && !/^text-align:\s*(left|right|center);?$/.test(value))
      ) {
        el.removeAttribute(attr.name);
      }
    }
    clean(el);
  }
}
