// The provider editor's rules, mirroring the server's (backend/config
// providers.go): pure helpers, tested in providers.test.ts.

import type { EnginePreset, Provider, ProviderHealth } from './api';
import { ago } from './format';

/** The base URL a provider of this API type gets when none is given. */
export function vendorDefault(type: string): string {
  return type === 'anthropic' ? 'https://api.anthropic.com' : 'https://api.openai.com/v1';
}

/**
 * The base URL a provider will have once the editor's form is saved: a
 * changed URL (empty: the type's default); an unchanged one, unless the
 * API type changes while the provider is on the old type's default, which
 * then moves to the new type's default.
 */
export function nextBaseURL(cur: Pick<Provider, 'type' | 'base_url'>, form: { type: string; base_url: string }, defaultFor: (type: string) => string = vendorDefault): string {
  const typed = form.base_url.trim();
  if (typed !== cur.base_url) return typed || defaultFor(form.type);
  if (form.type !== cur.type && cur.base_url === defaultFor(cur.type)) return defaultFor(form.type);
  return cur.base_url;
}

/**
 * The address a preset gives a provider of API type: its own for its own
 * type, without the trailing /v1 for the Anthropic API (the server's
 * Preset.DefaultBaseURL); the vendor's default for no preset.
 */
export function presetDefault(p: Pick<EnginePreset, 'base_url'> | undefined, type: string): string {
  if (!p) return vendorDefault(type);
  return type === 'anthropic' ? p.base_url.replace(/\/v1$/, '') : p.base_url;
}

/**
 * The Base URL field after the editor's preset changes from `from` to
 * `to`: the new preset's address when the field is empty or still holds
 * the old one's default (an address of one's own is kept), as the server
 * does.
 */
export function presetURL(field: string, type: string, from: EnginePreset | undefined, to: EnginePreset | undefined): string {
  const typed = field.trim();
  if (!typed || typed === presetDefault(from, type)) return presetDefault(to, type);
  return field;
}

/** One row of the extra headers editor. */
export interface HeaderRow {
  name: string;
  value: string;
}

/** The editor's rows for a provider's extra headers, by name; one empty row when there are none. */
export function headerRows(h: Record<string, string> | null | undefined): HeaderRow[] {
  const rows = Object.keys(h ?? {})
    .sort((a, b) => a.localeCompare(b))
    .map((name) => ({ name, value: h![name] }));
  return rows.length ? rows : [{ name: '', value: '' }];
}

/**
 * Whether a header's name says it carries a credential, as the server
 * decides (backend/providers credentialName): extra headers are stored and
 * shown in plain text, so it refuses them (use the API key field).
 */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
const CREDENTIAL_WORDS = ['key', 'secret', 'token', 'auth', 'password', 'passwd', 'cookie', 'session', 'signature', 'credential'];
function credentialName(lower: string): boolean {
  return CREDENTIAL_HEADERS.includes(lower) || CREDENTIAL_WORDS.some((w) => lower.includes(w));
}

/**
 * What the extra headers editor sends: its rows with a name, names and
 * values trimmed; and the first problem the server would refuse it for,
 * said at once ("" when none): a credential header, or one header twice.
 */
export function headersBody(rows: HeaderRow[]): { headers: Record<string, string>; problem: string } {
  const headers: Record<string, string> = {};
  const seen = new Set<string>();
  let problem = '';
  for (const r of rows) {
    const name = r.name.trim();
    if (!name) continue;
    const lower = name.toLowerCase();
    if (!problem && credentialName(lower)) problem = `${name} carries credentials: enter the key in the API key field instead`;
    if (!problem && seen.has(lower)) problem = `${name} is there twice`;
    seen.add(lower);
    headers[name] = r.value.trim();
  }
  return { headers, problem };
}

/** Whether two sets of extra headers are the same (an unchanged editor sends none). */
export function sameHeaders(a: Record<string, string> | null | undefined, b: Record<string, string> | null | undefined): boolean {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  return ka.length === kb.length && ka.every((k) => (b ?? {})[k] === (a ?? {})[k]);
}

/** What the "Health check every" field sends: empty is 0 (off). */
export function healthBody(v: unknown): number {
  if (v === null || v === undefined || v === '') return 0;
  const n = Number(v);
  return Number.isNaN(n) ? 0 : Math.round(n);
}

/**
 * The health line of a provider in the list: "" when it has no health
 * check; "checking…" before the first; else healthy or not, with the
 * latency or the failure and when it was checked.
 */
export function healthLabel(p: Pick<Provider, 'health_check_seconds' | 'health'>, now = Date.now()): { state: 'off' | 'pending' | 'ok' | 'down'; text: string } {
  if (!p.health_check_seconds) return { state: 'off', text: '' };
  const h: ProviderHealth | null | undefined = p.health;
  if (!h) return { state: 'pending', text: `checking every ${p.health_check_seconds} s…` };
  const when = 'checked ' + ago(h.checked_at, now);
  if (h.ok) return { state: 'ok', text: `${h.latency_ms} ms · ${when}` };
  return { state: 'down', text: `${h.error || 'unhealthy'} · ${when}` };
}

function effectivePort(u: URL): number {
  if (u.port) return Number(u.port);
  return u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : 0;
}

/**
 * Whether moving a provider from base URL `from` to `to` takes it to
 * another host, where the server does not let its key follow: another
 * host name (case-insensitive) or port, or https to http. False when
 * either URL does not parse (the server refuses such a URL anyway).
 */
export function hostChanged(from: string, to: string): boolean {
  let f: URL, t: URL;
  try {
    f = new URL(from);
    t = new URL(to);
  } catch {
    return false;
  }
  if (f.protocol === 'https:' && t.protocol !== 'https:') return true;
  return f.hostname !== t.hostname || effectivePort(f) !== effectivePort(t);
}

/** What the editor's form will send and keep, for keyDropped. */
export interface KeyForm {
  type: string;
  base_url: string;
  api_key: string;
  api_key_env: string;
  removeKey: boolean;
  keepEnv: boolean;
}

/**
 * What saving the form drops because the provider moves to another host:
 * its stored key unless a new one is entered (or it is removed anyway),
 * and its api_key_env unless the form sends it (changed, or kept on
 * purpose). Empty when nothing is lost.
 */
export function keyDropped(cur: Provider, form: KeyForm): { storedKey: boolean; env: boolean } {
  const none = { storedKey: false, env: false };
  if (!hostChanged(cur.base_url, nextBaseURL(cur, form))) return none;
  return {
    storedKey: cur.has_api_key && cur.api_key_source !== 'env' && !form.api_key && !form.removeKey,
    env: !!cur.api_key_env && form.api_key_env.trim() === cur.api_key_env && !form.keepEnv,
  };
}

/** The host (and port) of a URL for a message; the URL itself when it does not parse. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** The environment variable each hosted API's own SDKs read, by host. */
const vendorEnv: Record<string, string> = {
  'api.openai.com': 'OPENAI_API_KEY',
  'api.anthropic.com': 'ANTHROPIC_API_KEY',
  'api.groq.com': 'GROQ_API_KEY',
  'openrouter.ai': 'OPENROUTER_API_KEY',
  'api.together.xyz': 'TOGETHER_API_KEY',
  'api.mistral.ai': 'MISTRAL_API_KEY',
  'api.deepseek.com': 'DEEPSEEK_API_KEY',
};

/**
 * An environment variable name for a provider's key, as a placeholder: the
 * variable the vendor's own SDKs read when the base URL is a known vendor's
 * (or empty, the API type's default vendor), else one made of the name:
 * "my.llm" -> MY_LLM_API_KEY.
 */
export function envPlaceholder(name: string, type = '', baseURL = ''): string {
  let host = '';
  try {
    host = new URL(baseURL.trim() || (type ? vendorDefault(type) : '')).hostname.toLowerCase();
  } catch {
    host = '';
  }
  if (vendorEnv[host]) return vendorEnv[host];
  let base = name.trim().toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!base) base = 'PROVIDER';
  if (/^[0-9]/.test(base)) base = '_' + base;
  return base + '_API_KEY';
}

/** A short label for a failed connection test's kind (the badge beside its sentence). */
export function failureLabel(t: { code?: string; http_status?: number }): string {
  switch (t.code) {
    case 'connection_refused':
      return 'not running';
    case 'dns':
      return 'unknown host';
    case 'tls':
      return 'TLS';
    case 'timeout':
      return 'timeout';
    case 'connection_closed':
    case 'unreachable':
    case 'connection_failed':
      return 'unreachable';
    case 'http_status':
      return String(t.http_status ?? 'refused');
    case 'config':
      return 'not usable';
  }
  return 'failed';
}

/** The key column: "••••1234" for a stored key, "from $NAME" for one from the environment. */
export function keyLabel(p: Pick<Provider, 'has_api_key' | 'api_key_hint' | 'api_key_source' | 'api_key_env'>): string {
  if (p.api_key_source === 'env') return 'from $' + p.api_key_env;
  if (p.has_api_key) return p.api_key_hint ? '••••' + p.api_key_hint : 'stored';
  if (p.api_key_env) return '$' + p.api_key_env + ' (not set)';
  return 'no key';
}

/** The max_tokens the server sends to an Anthropic-API provider when a client gives none (backend/providers DefaultMaxTokens). */
export const DEFAULT_MAX_TOKENS = 4096;

/** The editor's "Default max tokens" field for a stored value: empty for the default (0), so the placeholder shows it. */
export function maxTokensField(n: number | null | undefined): number | null {
  return n && n > 0 ? n : null;
}

/** What an edited "Default max tokens" field sends: an empty field is 0, the server's "use the default". */
export function maxTokensBody(v: unknown): number {
  if (v === null || v === undefined || v === '') return 0;
  const n = Number(v);
  return Number.isNaN(n) ? 0 : n;
}

/**
 * The Connection column of a provider no test has answered for: that it is
 * untested, and when a hosted API has no key, why a test would fail.
 */
export function untested(p: Pick<Provider, 'warnings'>): string {
  const noKey = (p.warnings ?? []).some((w) => w.field === 'api_key');
  return noKey ? 'not tested: no API key is set' : 'not tested yet';
}

/** When a kept test ran, in words ("2 min ago"), for the Connection column. */
export function testedAgo(at: string, now = Date.now()): string {
  return 'tested ' + ago(at, now);
}
