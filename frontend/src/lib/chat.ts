// The chat's model: messages as the chat shows and saves them, the history
// each model is sent, and the words for a failover in progress. No DOM and
// no network here.

import type { ChatMessage, ToolCall, Usage } from './client';

/** How an answer ended. 'stopped' is the user's Stop: a neutral end, not an error. */
export type End = 'done' | 'stopped' | 'error';

/** One failed attempt of a request in flight (GET /api/events, topic attempts). */
export interface Attempt {
  client_request_id: string;
  backend: string;
  model: string;
  status: number;
  reason: string;
  action: 'retry' | 'failover' | 'give_up';
  next: string;
  delay_ms: number;
  /** When the chat received it (performance.now()), for the retry's countdown; never sent by the server. */
  received?: number;
}

/** A message as the chat shows and saves it (PUT /api/conversations/{id}). */
export interface Msg {
  id: string;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** Which column an answer (or a tool result) belongs to: 0, or 1 for the compared model. */
  lane?: number;
  model?: string; // an answer's: the model asked
  reasoning?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string; // a tool result's
  backend?: string;
  backend_model?: string; // X-Modelbar-Backend-Model: the model the answering backend was asked for
  fallback_from?: string;
  usage?: Usage | null;
  first_token_ms?: number | null;
  tokens_per_second?: number | null;
  rate_estimated?: boolean;
  total_ms?: number;
  finish_reason?: string | null;
  end?: End;
  error?: string;
  attempts?: Attempt[];
  // Only while streaming; never saved.
  streaming?: boolean;
  request_id?: string;
  started?: number;
}

let counter = 0;

/** A random id (crypto.randomUUID where there is one). */
export function newId(prefix = 'm'): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return prefix + '_' + c.randomUUID().replace(/-/g, '').slice(0, 20);
  return prefix + '_' + Date.now().toString(36) + (++counter).toString(36) + Math.random().toString(36).slice(2, 8);
}

/** The messages as they are saved: without what only a stream in flight has. */
export function savable(msgs: readonly Msg[]): Msg[] {
  return msgs
    .filter((m) => !m.streaming)
    .map((m) => {
      const { streaming: _s, request_id: _r, started: _t, ...rest } = m;
      const out = JSON.parse(JSON.stringify(rest)) as Msg;
      out.attempts?.forEach((a) => delete a.received); // a clock reading of this page only
      return out;
    });
}

/** A conversation's title from its first question: its first line, shortened. */
export function titleFrom(msgs: readonly Msg[]): string {
  const first = msgs.find((m) => m.role === 'user')?.content.trim() ?? '';
  const line = first.split('\n')[0].trim();
  return line.length > 60 ? line.slice(0, 57).trimEnd() + '…' : line || 'New chat';
}

/** An exchange: a user's message and what followed it until the next one. */
export interface Exchange {
  user: Msg | null; // null for messages before the first question (a system prompt)
  lanes: Msg[][]; // lanes[0], and lanes[1] when two models answered
}

export function exchanges(msgs: readonly Msg[]): Exchange[] {
  const out: Exchange[] = [];
  let cur: Exchange | null = null;
  for (const m of msgs) {
    if (m.role === 'user' || !cur) {
      cur = { user: m.role === 'user' ? m : null, lanes: [[]] };
      out.push(cur);
      if (m.role === 'user') continue;
    }
    const lane = m.lane ?? 0;
    while (cur.lanes.length <= lane) cur.lanes.push([]);
    cur.lanes[lane].push(m);
  }
  return out;
}

function failed(m: Msg): boolean {
  return m.role === 'assistant' && (m.end === 'error' || (!m.content && !m.tool_calls?.length));
}

/**
 * The messages sent to the model of lane: the system prompt, then each
 * exchange's question with that lane's answers and tool results (lane 0's
 * where the lane has none: compare was turned on later). A failed or
 * empty answer is left out, and with it a question left without any
 * answer, except the last (the one being asked); a tool result without its
 * call is left out too. A stopped answer's text is kept: the user saw it.
 */
export function history(msgs: readonly Msg[], lane: number, system = ''): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (system.trim()) out.push({ role: 'system', content: system.trim() });
  const all = exchanges(msgs);
  all.forEach((ex, i) => {
    const answers = (ex.lanes[lane]?.length ? ex.lanes[lane] : ex.lanes[0]).filter((m) => !m.streaming && !failed(m));
    if (ex.user && !answers.length && i < all.length - 1) return;
    if (ex.user) out.push({ role: 'user', content: ex.user.content });
    const calls = new Set<string>();
    for (const m of answers) {
      if (m.role === 'assistant') {
        const w: ChatMessage = { role: 'assistant', content: m.content || (m.tool_calls?.length ? null : '') };
        if (m.tool_calls?.length) {
          w.tool_calls = m.tool_calls;
          m.tool_calls.forEach((t) => calls.add(t.id));
        }
        out.push(w);
      } else if (m.role === 'tool') {
        if (m.tool_call_id && calls.has(m.tool_call_id)) out.push({ role: 'tool', content: m.content, tool_call_id: m.tool_call_id });
      } else if (m.role === 'system') {
        out.push({ role: 'system', content: m.content });
      }
    }
  });
  return out;
}

/** The tool calls of lane's last answer in msgs that have no result yet. */
export function pendingToolCalls(msgs: readonly Msg[], answer: Msg): ToolCall[] {
  if (!answer.tool_calls?.length || answer.streaming) return [];
  const i = msgs.indexOf(answer);
  const answered = new Set(msgs.slice(i + 1).filter((m) => m.role === 'tool').map((m) => m.tool_call_id));
  const later = msgs.slice(i + 1).some((m) => m.role !== 'tool' && (m.lane ?? 0) === (answer.lane ?? 0));
  if (later) return [];
  return answer.tool_calls.filter((t) => !answered.has(t.id));
}

/** A tool call's arguments, pretty-printed when they are JSON. */
export function prettyArguments(args: string): string {
  if (!args.trim()) return '{}';
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

/** "fake-small at fake": a backend and the model it was asked for (the backend alone when the model is unknown). */
export function at(backend: string, model?: string): string {
  return model ? `${model} at ${backend}` : backend;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
}

/**
 * What an attempt event says to the user: "retrying fake-large at fake
 * (429)… in 0.6 s", "fake-large at fake failed (HTTP 503): failing over to
 * fake-small". A retry's wait counts down from when the event came
 * (a.received) to now; once it is over, the retry is under way.
 */
export function attemptText(a: Attempt, now?: number): string {
  const why = a.status ? String(a.status) : a.reason || 'failed';
  const who = at(a.backend, a.model);
  switch (a.action) {
    case 'retry': {
      if (!(a.delay_ms > 0)) return `retrying ${who} (${why})…`;
      // The screen's clock ticks every 200 ms, so `now` may be a little
      // older than the event: the wait left is never more than its delay.
      const left = now !== undefined && a.received !== undefined ? Math.min(a.delay_ms, a.delay_ms - (now - a.received)) : a.delay_ms;
      return left > 0 ? `retrying ${who} (${why})… in ${seconds(left)}` : `retrying ${who} (${why}) now…`;
    }
    case 'failover':
      return `${who} failed (${why}): failing over to ${a.next}…`;
    default:
      return `${who} failed (${why}): no backend left to try`;
  }
}

/**
 * What an answer that came after a failover says: which backend and model
 * failed and why, then which answered — "fake-large at fake failed (HTTP
 * 503); answered by fake-small at fake". The failures come from the
 * attempts events (they name the model and the reason); without them (the
 * feed missed them) from X-Modelbar-Fallback-From, which names backends
 * only. "" when there was no failover.
 */
export function failoverText(m: Pick<Msg, 'attempts' | 'fallback_from' | 'backend' | 'backend_model'>): string {
  if (!m.fallback_from) return '';
  const seen = new Set<string>();
  const failed: string[] = [];
  for (const a of m.attempts ?? []) {
    if (a.action === 'retry') continue;
    const key = a.backend + '\u0000' + a.model;
    if (seen.has(key)) continue;
    seen.add(key);
    failed.push(`${at(a.backend, a.model)} failed (${a.reason || (a.status ? 'HTTP ' + a.status : 'failed')})`);
  }
  const before = failed.length ? failed.join(', ') : m.fallback_from.split(/,\s*/).filter(Boolean).map((b) => b + ' failed').join(', ');
  return m.backend ? `${before}; answered by ${at(m.backend, m.backend_model)}` : before;
}
