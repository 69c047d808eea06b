// The "Connect your tools" screen. Every snippet comes from the
// server (GET /api/connect, rendered by backend/connect, which README.md's
// section is generated from too); this module only asks for them, picks a
// client and labels what the server sent. It renders no configuration.

import { call } from './client';
import type { Connect, ConnectAPI, ConnectBlock, ConnectClient } from './api';

/** The model names the user typed; null until they type, so the server's defaults apply. */
export interface ModelChoice {
  model: string;
  smallModel: string;
}

/**
 * The snippets' stand-in for an inference key while keys are required
 * (backend/connect KeyPlaceholder): the admin API cannot show a real key,
 * it keeps only hashes.
 */
export const KEY_PLACEHOLDER = 'mb-your-key';

/**
 * The path of GET /api/connect for a choice: no query for null (README's
 * model names), else both names, trimmed. An empty model leaves Claude Code
 * its own model names; an empty small model means the model.
 */
export function connectPath(choice: ModelChoice | null): string {
  if (!choice) return '/api/connect';
  const q = new URLSearchParams({ model: choice.model.trim(), small_model: choice.smallModel.trim() });
  return '/api/connect?' + q.toString();
}

/** Asks the admin API for every client's snippets (the desktop window and a browser alike, through `call`). */
export function loadConnect(choice: ModelChoice | null): Promise<Connect> {
  return call<Connect>('GET', connectPath(choice));
}

/** The client to show: `want` while the answer still has it, else the first one; "" for none. */
export function pickClient(clients: readonly ConnectClient[] | null | undefined, want: string): string {
  if (!clients?.length) return '';
  return clients.some((c) => c.id === want) ? want : clients[0].id;
}

/**
 * The clients whose name or id contains every word of a query; all of them
 * (the same array) when the query is empty or matches none, so there is
 * always a client to show.
 */
export function matchClients(clients: ConnectClient[], query: string): ConnectClient[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return clients;
  const hits = clients.filter((c) => words.every((w) => (c.name + ' ' + c.id).toLowerCase().includes(w)));
  return hits.length ? hits : clients;
}

/** What a block's header says: its file path or screen, or "Shell" for variables and the command. */
export function blockLabel(b: ConnectBlock): string {
  if (b.title) return b.title;
  return b.lang === 'sh' ? 'Shell' : b.lang || 'Settings';
}

/** A list of settings to enter by hand, one a line (lang ""), rather than text to paste. */
export function isSteps(b: ConnectBlock): boolean {
  return b.lang === '';
}

/** The lines of a settings block. */
export function stepLines(b: ConnectBlock): string[] {
  return b.text.replace(/\n+$/, '').split('\n');
}

export const apiLabels: Record<ConnectAPI, string> = {
  openai: 'OpenAI API',
  anthropic: 'Anthropic API',
  responses: 'Responses API',
};

/** An API's label; an unknown one (a newer server) as it came. */
export function apiLabel(api: string): string {
  return apiLabels[api as ConnectAPI] ?? api;
}

/** Whether a suite runs this configuration (which, and how) or why none does; null when the server says neither. */
export function testedLine(c: ConnectClient): { tested: boolean; by: string; text: string } | null {
  if (c.tested) return { tested: true, by: c.tested_by || 'the client suite', text: c.tested };
  if (c.untested) return { tested: false, by: '', text: c.untested };
  return null;
}

/**
 * A snippet with a key the user just created in place of the placeholder.
 * Keys are `mb-` and base64url characters, which every format the
 * snippets use (shell words, JSON, YAML, TOML, JavaScript) reads as they
 * are, so the text stays valid.
 */
export function withKey(text: string, key: string | null | undefined): string {
  if (!key || !/^mb-[A-Za-z0-9_-]+$/.test(key)) return text;
  return text.split(KEY_PLACEHOLDER).join(key);
}

/** The name a key created for the snippets gets: what it is for and when it was made (names need not be unique). */
export function connectKeyName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `tools (Connect, ${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())})`;
}

/** Splits a note into plain text and `code` spans (the server writes notes in Markdown's backticks). */
export function codeSpans(text: string): { code: boolean; text: string }[] {
  const parts: { code: boolean; text: string }[] = [];
  const re = /`([^`]+)`/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) parts.push({ code: false, text: text.slice(last, m.index) });
    parts.push({ code: true, text: m[1] });
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push({ code: false, text: text.slice(last) });
  return parts;
}

/** The tab a key moves focus to in a tab list of n (arrows wrap; Home, End); null for other keys. */
export function tabStep(i: number, key: string, n: number): number | null {
  if (n <= 0) return null;
  switch (key) {
    case 'ArrowRight':
    case 'ArrowDown':
      return (i + 1) % n;
    case 'ArrowLeft':
    case 'ArrowUp':
      return (i - 1 + n) % n;
    case 'Home':
      return 0;
    case 'End':
      return n - 1;
    default:
      return null;
  }
}
