// The one client every screen uses: the admin API (/api/...) and the
// gateway's own inference API (/v1/...) for the chat playground.
//
// Two transports, chosen once at start-up:
//   - in the Wails desktop window, the Go binding window.go.main.App.Call
//     answers admin calls in process (no token, no HTTP);
//   - in a browser (/ui/ served by `modelbar serve`), same-origin fetch with
//     the session cookie a one-time login link set (`modelbar ui`, or the
//     menu-bar icon's "Open in browser"). The page holds no secret: the
//     cookie is HttpOnly, and a 401 tells the app to show how to sign in.
// The admin API's errors are {"error":{"message","type","param","code"}};
// they surface as ApiError, whose `param` names the offending form field.

import type { Session } from './api';

/** What a transport answers: the HTTP status and the raw body text. */
export interface RawResponse {
  status: number;
  body: string;
}

/** Sends one admin request; rejects only when it could not be sent. */
export type Transport = (method: string, path: string, body: string) => Promise<RawResponse>;

export type TransportKind = 'wails' | 'http';

/** The Go binding the desktop shell provides (see app.go). */
export interface WailsApp {
  Call(method: string, path: string, body: string): Promise<RawResponse>;
}

declare global {
  interface Window {
    go?: { main?: { App?: Partial<WailsApp> } };
  }
}

/** An admin or gateway error, decoded from the API's error body. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;

  constructor(status: number, message: string, type = 'api_error', param: string | null = null, code: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  /** The form field `param` points at: "fallbacks[1]" -> "fallbacks". */
  get field(): string | null {
    if (!this.param) return null;
    const m = /^[^[.]+/.exec(this.param);
    return m ? m[0] : this.param;
  }

  /** The message without the "param: " prefix the server puts in front. */
  get fieldMessage(): string {
    const p = this.param ? this.param + ': ' : '';
    return p && this.message.startsWith(p) ? this.message.slice(p.length) : this.message;
  }
}

/** Decodes an error answer; anything that is not the API's shape still gives a useful message. */
export function decodeError(status: number, body: string): ApiError {
  const text = body.trim();
  try {
    const v = JSON.parse(text) as unknown;
    const e = (v as { error?: unknown })?.error;
    if (e && typeof e === 'object') {
      const o = e as Record<string, unknown>;
      const str = (x: unknown) => (typeof x === 'string' && x !== '' ? x : null);
      return new ApiError(status, str(o.message) ?? `HTTP ${status}`, str(o.type) ?? 'api_error', str(o.param), str(o.code));
    }
    if (typeof e === 'string' && e) return new ApiError(status, e); // {"error":"..."} (some providers)
  } catch {
    // not JSON: fall through
  }
  return new ApiError(status, text ? text.slice(0, 500) : `HTTP ${status}`);
}

/** Turns a raw answer into a value, or throws its ApiError. */
export function decodeResponse<T>(res: RawResponse): T {
  if (res.status < 200 || res.status >= 300) throw decodeError(res.status, res.body);
  if (res.status === 204 || res.body.trim() === '') return undefined as T;
  try {
    return JSON.parse(res.body) as T;
  } catch {
    throw new ApiError(res.status, 'the answer is not JSON: ' + res.body.slice(0, 200), 'decode_error');
  }
}

function sendError(err: unknown): ApiError {
  const msg = err instanceof Error ? err.message : String(err);
  return new ApiError(0, 'cannot reach modelbar: ' + msg, 'network_error');
}

/** The Wails binding, when this page runs in the desktop window. */
export function wailsApp(win: Pick<Window, 'go'> | undefined): WailsApp | undefined {
  const app = win?.go?.main?.App;
  return app && typeof app.Call === 'function' ? (app as WailsApp) : undefined;
}

export function wailsTransport(app: WailsApp): Transport {
  return async (method, path, body) => {
    let res: RawResponse;
    try {
      res = await app.Call(method, path, body);
    } catch (err) {
      throw sendError(err);
    }
    return { status: Number(res?.status) || 0, body: String(res?.body ?? '') };
  };
}

/**
 * Admin calls over HTTP from a page the server itself served: the browser
 * sends the session cookie (same origin) and the Origin and Sec-Fetch-Site
 * headers the server's CSRF check reads. No credential is ever in the page.
 */
export function fetchTransport(fetchFn: typeof fetch, origin = ''): Transport {
  return async (method, path, body) => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetchFn(origin + path, { method, headers, body: body || undefined, credentials: 'same-origin', cache: 'no-store' });
    } catch (err) {
      throw sendError(err);
    }
    return { status: res.status, body: await res.text() };
  };
}

/** Options of createClient; the defaults are the page's own globals. */
export interface ClientEnv {
  window?: Pick<Window, 'go'> & { location?: { origin: string } };
  fetch?: typeof fetch;
}

/**
 * Why a browser must sign in: it has no session ('required'), its session
 * ended — expired, revoked, token rotated, modelbar restarted ('expired') —
 * or the user signed out here ('signed-out').
 */
export type SignInReason = 'required' | 'expired' | 'signed-out';

export class Client {
  readonly kind: TransportKind;
  private readonly transport: Transport;
  private readonly origin: string;
  private readonly fetchFn: typeof fetch;
  private readonly signInListeners = new Set<(reason: SignInReason) => void>();

  constructor(kind: TransportKind, transport: Transport, origin: string, fetchFn: typeof fetch) {
    this.kind = kind;
    this.transport = transport;
    this.origin = origin;
    this.fetchFn = fetchFn;
  }

  /**
   * One admin API call: JSON in (body, if any), JSON out; throws ApiError.
   * In a browser a 401 also tells the onSignInNeeded listeners why.
   */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const res = await this.transport(method.toUpperCase(), path, text);
    if (res.status === 401 && this.kind === 'http') {
      // Only the caller's own credentials answer 401 (the Hub refusing
      // modelbar is a 403): the session ended.
      const err = decodeError(res.status, res.body);
      this.signInNeeded(err.code === 'session_expired' ? 'expired' : 'required');
      throw err;
    }
    return decodeResponse<T>(res);
  }

  /** Calls f whenever the browser must sign in; returns the unsubscribe. */
  onSignInNeeded(f: (reason: SignInReason) => void): () => void {
    this.signInListeners.add(f);
    return () => this.signInListeners.delete(f);
  }

  private signInNeeded(reason: SignInReason) {
    for (const f of this.signInListeners) f(reason);
  }

  /**
   * Ends this browser's session (DELETE /api/sessions/{its id}); the server
   * expires the cookie. Nothing to do in the desktop window, which has none.
   */
  async signOut(): Promise<void> {
    if (this.kind !== 'http') return;
    const sessions = (await this.call<Session[]>('GET', '/api/sessions')) ?? [];
    const mine = sessions.find((s) => s.current);
    if (mine) await this.call('DELETE', '/api/sessions/' + encodeURIComponent(mine.id));
    this.signInNeeded('signed-out');
  }

  /** Ends every browser session (DELETE /api/sessions), this browser's too. */
  async signOutEverywhere(): Promise<void> {
    await this.call('DELETE', '/api/sessions');
    if (this.kind === 'http') this.signInNeeded('signed-out');
  }

  /**
   * The gateway's base URL for /v1 calls: the page's own origin in both
   * transports. In a browser that is the server; in the desktop window the
   * window's own origin (wails://), whose asset server hands /v1 to the
   * server in process — so the window's chat needs no key when inference
   * keys are required, and holds none.
   */
  gatewayBase(): Promise<string> {
    return Promise.resolve(this.kind === 'http' ? this.origin : '');
  }

  /**
   * fetch against the gateway. In a browser it sends the session cookie
   * (same origin): the gateway admits the signed-in UI's own pages to /v1
   * when inference keys are required. With an explicit API key (testing
   * "as a client would") the cookie is left out, so the key alone decides.
   */
  async fetchGateway(path: string, init: RequestInit = {}, withKey = false): Promise<Response> {
    const base = await this.gatewayBase();
    try {
      return await this.fetchFn(base + path, { credentials: withKey ? 'omit' : 'same-origin', ...init });
    } catch (err) {
      throw sendError(err);
    }
  }
}

/** Picks the transport: the Wails binding when present, else same-origin fetch with the session cookie. */
export function createClient(env: ClientEnv = {}): Client {
  const win = env.window ?? (typeof window !== 'undefined' ? window : undefined);
  const fetchFn = env.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const origin = win?.location?.origin ?? '';
  const app = wailsApp(win);
  if (app) return new Client('wails', wailsTransport(app), origin, fetchFn);
  return new Client('http', fetchTransport(fetchFn), origin, fetchFn);
}

let shared: Client | null = null;

/** The page's client, created on first use. */
export function client(): Client {
  return (shared ??= createClient());
}

/** Shorthand for client().call. */
export function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  return client().call<T>(method, path, body);
}

// ---- Server-sent events ----------------------------------------------------

export interface SSEEvent {
  event: string; // "" when the stream named none
  data: string;
}

/**
 * An incremental SSE parser (the WHATWG rules that matter here): feed it
 * text as it arrives, get whole events back. Lines end in \n, \r\n or \r;
 * a blank line ends an event; "data" lines join with \n; ":" lines are
 * comments; events without data are dropped.
 */
export class SSEParser {
  private buf = '';
  private event = '';
  private data: string[] = [];

  push(text: string): SSEEvent[] {
    this.buf += text;
    const out: SSEEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  /** Ends the stream: a last event without its blank line still counts. */
  end(): SSEEvent[] {
    const out: SSEEvent[] = [];
    if (this.buf) this.line(this.buf, out);
    this.buf = '';
    this.line('', out);
    return out;
  }

  private line(line: string, out: SSEEvent[]) {
    if (line === '') {
      if (this.data.length) out.push({ event: this.event, data: this.data.join('\n') });
      this.event = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
  }
}

/** The events of a response body, as they arrive. */
export async function* readSSE(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SSEEvent> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  const parser = new SSEParser();
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(dec.decode(value, { stream: true }));
    }
    yield* parser.push(dec.decode());
    yield* parser.end();
  } finally {
    reader.releaseLock();
  }
}

// ---- Chat through the gateway ------------------------------------------------

/** A tool call as the OpenAI API carries it; arguments is JSON text. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_calls?: ToolCall[]; // an assistant's
  tool_call_id?: string; // a tool result's
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  max_tokens?: number;
  tools?: unknown[]; // OpenAI tool definitions, sent as given
  apiKey?: string; // a modelbar inference key, when require_api_keys is on
  /** Sent as X-Modelbar-Client-Request: the id the gateway's attempts events carry. */
  clientRequestId?: string;
}

export interface ChatProgress {
  content: string; // the answer so far
  reasoning: string; // reasoning_content (or reasoning) so far
  toolCalls: ToolCall[]; // the tool calls so far (arguments grow while streaming)
  backend: string; // X-Modelbar-Backend
  fallbackFrom: string; // X-Modelbar-Fallback-From ("" without a failover)
  backendModel: string; // X-Modelbar-Backend-Model: the model the answering backend was asked for
  usage: Usage | null;
  model: string; // the model the answer names
  firstTokenMs: number | null; // from send to the first content, reasoning or tool call
  elapsedMs: number; // from send to now
  /**
   * Output tokens per second: from the usage once it arrives; while
   * streaming, estimated from the events received (one token each, about).
   */
  tokensPerSecond: number | null;
  estimatedRate: boolean; // tokensPerSecond is the estimate
  finishReason: string | null;
  events: number; // events that carried output
}

/**
 * Streams one chat completion through the gateway (POST /v1/chat/completions,
 * stream with usage), calling onProgress after every event. Resolves with the
 * final state; throws ApiError on an error answer or an in-stream error event,
 * and the AbortError of signal when it is aborted.
 */
export async function streamChat(
  c: Client,
  req: ChatRequest,
  onProgress: (p: ChatProgress) => void,
  signal?: AbortSignal,
  now: () => number = () => performance.now(),
): Promise<ChatProgress> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  if (req.apiKey) headers.Authorization = 'Bearer ' + req.apiKey;
  if (req.clientRequestId) headers['X-Modelbar-Client-Request'] = req.clientRequestId;
  const body: Record<string, unknown> = {
    model: req.model,
    messages: req.messages,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.max_tokens !== undefined) body.max_tokens = req.max_tokens;
  if (req.tools?.length) body.tools = req.tools;
  const start = now();
  const res = await c.fetchGateway('/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify(body), signal }, !!req.apiKey);
  const p: ChatProgress = {
    content: '',
    reasoning: '',
    toolCalls: [],
    backend: res.headers.get('X-Modelbar-Backend') ?? '',
    fallbackFrom: res.headers.get('X-Modelbar-Fallback-From') ?? '',
    backendModel: res.headers.get('X-Modelbar-Backend-Model') ?? '',
    usage: null,
    model: '',
    firstTokenMs: null,
    elapsedMs: 0,
    tokensPerSecond: null,
    estimatedRate: false,
    finishReason: null,
    events: 0,
  };
  if (!res.ok || !res.body) {
    const err = decodeError(res.status, await res.text());
    throw Object.assign(err, { backend: p.backend, fallbackFrom: p.fallbackFrom });
  }
  const isStream = (res.headers.get('Content-Type') ?? '').includes('text/event-stream');
  if (!isStream) {
    // A backend may answer whole; take it as one event.
    applyChunk(p, JSON.parse(await res.text()), now() - start);
  } else {
    for await (const ev of readSSE(res.body, signal)) {
      if (ev.data === '[DONE]') break;
      let chunk: unknown;
      try {
        chunk = JSON.parse(ev.data);
      } catch {
        continue;
      }
      applyChunk(p, chunk, now() - start);
      p.tokensPerSecond = rate(p);
      p.estimatedRate = !p.usage;
      onProgress({ ...p, toolCalls: p.toolCalls.map(copyCall) });
    }
    signal?.throwIfAborted();
  }
  p.elapsedMs = now() - start;
  p.tokensPerSecond = rate(p);
  p.estimatedRate = !p.usage && p.tokensPerSecond !== null;
  onProgress({ ...p, toolCalls: p.toolCalls.map(copyCall) });
  return p;
}

function copyCall(t: ToolCall): ToolCall {
  return { ...t, function: { ...t.function } };
}

interface Delta {
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
  tool_calls?: { index?: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }[];
}

function applyChunk(p: ChatProgress, chunk: unknown, elapsed: number) {
  const c = chunk as {
    error?: unknown;
    model?: string;
    usage?: Usage | null;
    choices?: { delta?: Delta; message?: Delta; finish_reason?: string | null }[];
  };
  if (c.error) {
    throw decodeError(0, JSON.stringify({ error: c.error }));
  }
  if (c.model) p.model = c.model;
  if (c.usage) p.usage = c.usage;
  for (const ch of c.choices ?? []) {
    const d = ch.delta ?? ch.message ?? {};
    const text = d.content ?? '';
    const reasoning = d.reasoning_content ?? d.reasoning ?? '';
    const calls = d.tool_calls ?? [];
    if (text || reasoning || calls.length) {
      if (p.firstTokenMs === null) p.firstTokenMs = elapsed;
      p.events++;
    }
    p.content += text;
    p.reasoning += reasoning;
    calls.forEach((tc, k) => mergeToolCall(p.toolCalls, tc, ch.delta ? (tc.index ?? k) : k));
    if (ch.finish_reason) p.finishReason = ch.finish_reason;
  }
  p.elapsedMs = elapsed;
}

/** Adds a streamed tool-call fragment (by index) or a whole call to calls. */
function mergeToolCall(calls: ToolCall[], tc: NonNullable<Delta['tool_calls']>[number], index: number) {
  const cur = (calls[index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
  if (tc.id) cur.id = tc.id;
  if (tc.function?.name) cur.function.name += tc.function.name;
  if (tc.function?.arguments) cur.function.arguments += tc.function.arguments;
}

function rate(p: ChatProgress): number | null {
  const n = p.usage?.completion_tokens ?? p.events;
  if (!n || p.firstTokenMs === null) return null;
  const genMs = p.elapsedMs - p.firstTokenMs;
  // One token arrives with the first event: the rest took genMs.
  if (genMs <= 0) return null;
  return (Math.max(n - 1, 1) * 1000) / genMs;
}

/** The model ids the gateway lists (GET /v1/models). */
export async function gatewayModels(c: Client, apiKey?: string): Promise<string[]> {
  const headers: Record<string, string> = {};
  if (apiKey) headers.Authorization = 'Bearer ' + apiKey;
  const res = await c.fetchGateway('/v1/models', { headers }, !!apiKey);
  const text = await res.text();
  if (!res.ok) throw decodeError(res.status, text);
  const v = JSON.parse(text) as { data?: { id: string }[] };
  return (v.data ?? []).map((m) => m.id);
}
