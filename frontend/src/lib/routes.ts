import type { RequestAttempt, Route, RouteInput } from './api';

/** Whether a pattern is a wildcard (the server's rule: any of `*`, `?`, `[`). */
export function isWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** What the server's evaluation order needs of a route. */
export type Ranked = Pick<Route, 'id' | 'priority' | 'model_pattern'>;

/**
 * Whether a comes before b at equal priority, as the server orders them
 * (backend/router evaluationOrder): an exact pattern before a wildcard,
 * then the older (lower id) route.
 */
function tieBefore(a: Ranked, b: Ranked): boolean {
  const wa = isWildcard(a.model_pattern);
  const wb = isWildcard(b.model_pattern);
  if (wa !== wb) return !wa;
  return a.id < b.id;
}

/** The server's evaluation order of a list of routes. */
export function evaluationOrder<T extends Ranked>(routes: T[]): T[] {
  return [...routes].sort((a, b) => b.priority - a.priority || (tieBefore(a, b) ? -1 : 1));
}

/**
 * The priority changes that put `routes` (in evaluation order) into the
 * order they have after moving routes[from] to position `to`: as few
 * routes as possible get a new priority (one, for any single move), and
 * the moved route is the one that changes when that is as cheap.
 */
export function reorder(routes: Ranked[], from: number, to: number): { id: number; priority: number }[] {
  if (from === to || from < 0 || to < 0 || from >= routes.length || to >= routes.length) return [];
  const next = [...routes];
  const [moved] = next.splice(from, 1);
  next.splice(to, 0, moved);
  return priorities(next, moved.id);
}

/**
 * The fewest priority changes after which the server evaluates `order` as
 * given. Routes that keep their priority must already be in a feasible
 * order: between two kept routes i < j, the routes in between need a
 * strict step down wherever the tie-break does not already put them in
 * order, so the kept priorities must differ by at least that many steps.
 * The longest such chain is kept (dynamic programming over pairs), and the
 * others take the nearest priority that fits. `prefer` is a route to
 * change rather than another when both cost the same (the one that moved).
 */
export function priorities(order: Ranked[], prefer?: number): { id: number; priority: number }[] {
  const n = order.length;
  if (n < 2) return [];
  // steps[k]: strict steps down needed between positions 0 and k.
  const steps = [0];
  for (let m = 0; m + 1 < n; m++) steps.push(steps[m] + (tieBefore(order[m], order[m + 1]) ? 0 : 1));
  const fits = (i: number, j: number) => order[i].priority - order[j].priority >= steps[j] - steps[i];

  const longest = (skip: number) => {
    const len = new Array<number>(n).fill(0);
    const prev = new Array<number>(n).fill(-1);
    for (let j = 0; j < n; j++) {
      if (j === skip) continue;
      len[j] = 1;
      for (let i = 0; i < j; i++) {
        if (len[i] > 0 && len[i] + 1 > len[j] && fits(i, j)) {
          len[j] = len[i] + 1;
          prev[j] = i;
        }
      }
    }
    let end = 0;
    for (let j = 1; j < n; j++) if (len[j] > len[end]) end = j;
    const kept = new Set<number>();
    for (let j = end; j >= 0 && len[j] > 0; j = prev[j]) kept.add(j);
    return kept;
  };
  let kept = longest(-1);
  const moved = prefer === undefined ? -1 : order.findIndex((r) => r.id === prefer);
  if (moved >= 0 && kept.has(moved)) {
    const other = longest(moved);
    if (other.size === kept.size) kept = other;
  }

  const p = order.map((r) => r.priority);
  const first = Math.min(...kept);
  for (let m = first - 1; m >= 0; m--) p[m] = p[m + 1] + (steps[m + 1] - steps[m]);
  for (let m = first + 1; m < n; m++) if (!kept.has(m)) p[m] = p[m - 1] - (steps[m] - steps[m - 1]);
  const changes: { id: number; priority: number }[] = [];
  order.forEach((r, m) => {
    if (p[m] !== r.priority) changes.push({ id: r.id, priority: p[m] });
  });
  return changes;
}

/** Splits "provider:model" into its parts. */
export function splitFallback(entry: string): { backend: string; model: string } {
  const i = entry.indexOf(':');
  return i < 0 ? { backend: entry, model: '' } : { backend: entry.slice(0, i), model: entry.slice(i + 1) };
}

/** An empty route for the editor: enabled, listed, no alias or fallbacks. */
export function blankRoute(backend = 'local'): RouteInput {
  return {
    model_pattern: '', backend, backend_model: '', fallbacks: [], priority: 0, enabled: true, hidden: false,
    max_requests_per_minute: null, max_tokens_per_day: null,
  };
}

/** The editor's copy of a route: every field present (hidden false when the server sent none). */
export function routeInput(r: Route): RouteInput {
  return {
    model_pattern: r.model_pattern,
    backend: r.backend,
    backend_model: r.backend_model,
    fallbacks: [...(r.fallbacks ?? [])],
    priority: r.priority,
    enabled: r.enabled,
    hidden: r.hidden ?? false,
    max_requests_per_minute: r.max_requests_per_minute ?? null,
    max_tokens_per_day: r.max_tokens_per_day ?? null,
  };
}

/**
 * A budget field as the server takes it: null for an empty field (no
 * limit), else the number typed. A value the server will refuse (0, -1,
 * 1.5) is sent as is, so its 400 names the field.
 */
export function budgetValue(v: number | string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') {
    if (v.trim() === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return Number.isFinite(v) ? v : null;
}

/** Whether a route has a budget. */
export function hasBudget(r: Pick<Route, 'max_requests_per_minute' | 'max_tokens_per_day'>): boolean {
  return r.max_requests_per_minute != null || r.max_tokens_per_day != null;
}

/** A count in few characters: 950, 40k, 1.5M. */
export function compact(n: number): string {
  const units: [number, string][] = [[1e9, 'B'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, unit] of units) {
    if (Math.abs(n) >= size) {
      const v = n / size;
      return `${v >= 100 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1).replace(/\.0$/, '')}${unit}`;
    }
  }
  return String(n);
}

/**
 * A route's budget and its use for the routes list, e.g.
 * "12/60 per min · 40k/1M tokens today"; "" without a budget.
 */
export function budgetLabel(r: Pick<Route, 'max_requests_per_minute' | 'max_tokens_per_day' | 'usage'>): string {
  const parts: string[] = [];
  if (r.max_requests_per_minute != null) {
    parts.push(`${compact(r.usage?.requests_this_minute ?? 0)}/${compact(r.max_requests_per_minute)} per min`);
  }
  if (r.max_tokens_per_day != null) {
    parts.push(`${compact(r.usage?.tokens_today ?? 0)}/${compact(r.max_tokens_per_day)} tokens today`);
  }
  return parts.join(' · ');
}

/** Whether a route has used all of one of its limits: its next request is refused. */
export function budgetSpent(r: Pick<Route, 'max_requests_per_minute' | 'max_tokens_per_day' | 'usage'>): boolean {
  const u = r.usage;
  if (!u) return false;
  return (
    (r.max_requests_per_minute != null && u.requests_this_minute >= r.max_requests_per_minute) ||
    (r.max_tokens_per_day != null && u.tokens_today >= r.max_tokens_per_day)
  );
}

/**
 * A route the editor should open with, handed over from another screen
 * (the Providers screen's "Add an alias"); the Routes screen takes it when
 * it mounts.
 */
export const handoff: { route: RouteInput | null } = { route: null };

/** The fallback entries a route's chain may still take from `backend`: plain, or with a model. */
export function fallbackProblem(primary: string, chain: string[], backend: string, model: string): string {
  const entry = model ? `${backend}:${model}` : backend;
  if (!backend) return 'choose a backend';
  if (backend === primary && !model) return `${backend} is already the route's backend: name another model to fall back to`;
  if (chain.includes(entry)) return `${entry} is already in the chain`;
  return '';
}

/** "model at backend", or the backend alone when the model is not known. */
function at(backend: string, model?: string): string {
  return model ? `${model} at ${backend}` : backend;
}

/**
 * What failed before a test request was answered, one phrase per backend
 * and model ("fake-large at fake failed (HTTP 503)"): its retries count
 * once, with the last try's reason; the answering try is left out.
 */
export function failedBefore(attempts: RequestAttempt[] | undefined): string[] {
  const last = new Map<string, RequestAttempt>();
  for (const a of attempts ?? []) {
    if (a.outcome === 'answered') continue;
    const key = a.backend + '\u0000' + a.model;
    last.delete(key); // re-inserted: kept in the order of its last try
    last.set(key, a);
  }
  return [...last.values()].map((a) => {
    const why = a.reason || (a.status ? `HTTP ${a.status}` : '');
    const verb = a.outcome === 'skipped' ? 'was skipped' : 'failed';
    return `${at(a.backend, a.model)} ${verb}${why ? ` (${why})` : ''}`;
  });
}

/** Who answered a test request: "fake-small at fake". */
export function answeredBy(backend: string, model?: string): string {
  return at(backend, model);
}
