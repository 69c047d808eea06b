// The Requests screen's logic: the log's query, merging polled rows, and
// how an entry's status, chain and token count read.

import type { RequestAttempt, RequestEntry, RequestTotals } from './api';

/** The filters GET /api/requests takes. */
export interface RequestFilters {
  errors: boolean;
  failovers: boolean;
  /** "" for every backend. */
  backend: string;
}

export const noFilters: RequestFilters = { errors: false, failovers: false, backend: '' };

/** The path of one poll: the first (no after) takes the latest `first` rows, later ones what is new. */
export function requestsPath(f: RequestFilters, after: number, first = 200): string {
  const q = new URLSearchParams();
  if (after > 0) {
    q.set('limit', '1000');
    q.set('after', String(after));
  } else {
    q.set('limit', String(first));
  }
  if (f.errors) q.set('errors', '1');
  if (f.failovers) q.set('failovers', '1');
  if (f.backend) q.set('backend', f.backend);
  return '/api/requests?' + q.toString();
}

/** New rows merged into the shown ones: newest first, each id once, at most max. */
export function mergeRows(rows: RequestEntry[], got: RequestEntry[], max: number): RequestEntry[] {
  const seen = new Set<number>();
  return [...got, ...rows]
    .sort((a, b) => b.id - a.id)
    .filter((r) => !seen.has(r.id) && seen.add(r.id))
    .slice(0, max);
}

/** The status 499: the client went away before the answer was complete. */
export const CANCELLED = 499;

export type Tone = 'ok' | 'warn' | 'err' | 'neutral';

/** How a status reads: a cancellation is the client's choice, not a failure. */
export function statusTone(status: number): Tone {
  if (status === CANCELLED) return 'neutral';
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500) return 'warn';
  return 'err';
}

/** The words beside a status: "cancelled" for 499. */
export function statusWord(status: number): string {
  return status === CANCELLED ? 'cancelled' : '';
}

/** Whether an entry is an error as ?errors=1 counts it. */
export function isError(e: Pick<RequestEntry, 'status' | 'error'>): boolean {
  return (e.status >= 400 && e.status !== CANCELLED) || !!e.error;
}

/** Where the output token count comes from, said plainly. */
export function tokensSource(source: RequestEntry['output_tokens_source']): string {
  switch (source) {
    case 'usage':
      return 'reported by the backend';
    case 'counted':
      return 'counted as they were streamed';
    case 'estimated':
      return 'estimated from the text streamed';
  }
  return '';
}

/** A chain step's outcome for a person. */
export function outcomeWord(a: RequestAttempt): string {
  const retry = a.retry ? ` (retry ${a.retry})` : '';
  switch (a.outcome) {
    case 'answered':
      return 'answered' + retry;
    case 'failed':
      return 'failed' + retry;
    case 'skipped':
      return 'skipped';
    case 'cancelled':
      return 'cancelled by the client' + retry;
  }
  return a.outcome + retry;
}

export function outcomeTone(a: RequestAttempt): Tone {
  switch (a.outcome) {
    case 'answered':
      return a.status >= 400 ? 'warn' : 'ok';
    case 'cancelled':
      return 'neutral';
    case 'skipped':
      return 'warn';
  }
  return 'err';
}

/** The backends to offer in the filter: those seen in the totals and the rows, sorted, plus the chosen one. */
export function backendChoices(totals: RequestTotals[], rows: RequestEntry[], chosen: string): string[] {
  const set = new Set<string>();
  for (const t of totals) if (t.backend && t.backend !== 'none') set.add(t.backend);
  for (const r of rows) {
    if (r.backend && r.backend !== 'none') set.add(r.backend);
    for (const b of r.fallback_from ?? []) set.add(b);
  }
  if (chosen) set.add(chosen);
  return [...set].sort();
}

/** Whether a row matches the search box's text (model, backend, route, path, status). */
export function matchesText(r: RequestEntry, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (!q) return true;
  const words = [r.model, r.backend, r.route, r.path, String(r.status), statusWord(r.status), ...(r.fallback_from ?? [])];
  return words.some((v) => v?.toLowerCase().includes(q));
}
