import type { Member, Policy, RequestAttempt, Route, RouteInput } from './api';
import { formError } from './forms';

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
    max_requests_per_minute: null, max_tokens_per_day: null, max_context: null,
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
    max_context: r.max_context ?? null,
    ...(r.targets ? { targets: r.targets.map((m) => ({ ...m })) } : {}),
    ...(r.policy !== undefined ? { policy: r.policy } : {}),
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

/**
 * Why the fallback `backend` (with `model`) cannot join a route's chain, or
 * "" when it can, as the server decides (backend/router checkFallbacks): a
 * fallback may not repeat a member of the route's `group` — the same
 * backend sent the same model, where a fallback without a model is sent
 * the first member's — so the route's own backend needs another model;
 * and an entry is taken once.
 */
export function fallbackProblem(primary: string, chain: string[], backend: string, model: string, group: Member[] = []): string {
  const entry = model ? `${backend}:${model}` : backend;
  if (!backend) return 'choose a backend';
  const members = group.length ? group : [{ backend: primary, model: '', weight: 1 }];
  const sent = model || members[0].model.trim();
  const j = members.findIndex((m) => m.backend === backend && m.model.trim() === sent);
  if (j === 0 && !model) return `${backend} is already the route's backend: name another model to fall back to`;
  if (j >= 0) return `${entry} is already in the route's group`;
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

// ---- groups: several backends behind one route ----

/** The group policies, in the order the editor offers them, with a line of help each. */
export const policies: { value: Policy; label: string; help: string }[] = [
  {
    value: 'first',
    label: 'First available',
    help: 'Each request goes to the first backend in this order that is not cooling down; the next ones take over when it fails.',
  },
  {
    value: 'weighted',
    label: 'Weighted',
    help: 'Requests are shared by weight, evenly interleaved: weights 2 and 1 send two of every three requests to the first.',
  },
  {
    value: 'least-busy',
    label: 'Least busy',
    help: 'Each request goes to the backend with the fewest requests in flight; on a tie, to the one that started answering fastest lately.',
  },
];

/** A policy as the server may send it ("" or absent is "first"). */
export function policyOf(p: string | null | undefined): Policy {
  return p === 'weighted' || p === 'least-busy' ? p : 'first';
}

/** A policy's name for people: "First available", "Weighted", "Least busy". */
export function policyLabel(p: string | null | undefined): string {
  const v = policyOf(p);
  return policies.find((x) => x.value === v)!.label;
}

/** A route's group as the editor edits it: its targets, or its one backend when the server sent none. */
export function membersOf(r: Pick<RouteInput, 'backend' | 'backend_model' | 'targets'>): Member[] {
  if (r.targets?.length) return r.targets.map((m) => ({ backend: m.backend, model: m.model ?? '', weight: m.weight || 1 }));
  return [{ backend: r.backend, model: r.backend_model, weight: 1 }];
}

/** Whether a group is what a route without one means: one backend, weight 1, the first policy. */
export function isPlainGroup(members: Member[], policy: string | null | undefined): boolean {
  return members.length === 1 && (members[0].weight || 1) === 1 && policyOf(policy) === 'first';
}

/**
 * A weight as the server takes it: empty is 1 (the default); anything else
 * is sent as typed, so a weight the server refuses (0.5, 5000) comes back
 * as a 400 at its field.
 */
export function weightValue(v: number | string | null | undefined): number {
  const n = budgetValue(v);
  return n === null ? 1 : n;
}

/**
 * The body the editor saves. backend and backend_model are always the first
 * member (old clients and the server agree on them). targets and policy are
 * sent only when the group is more than a plain backend, or was before the
 * edit (a group cut down to one backend must replace the stored group): a
 * route that is and was one backend saves exactly as it did before groups.
 */
export function routeBody(form: RouteInput, members: Member[], policy: Policy, before: { members: Member[]; policy?: string }): RouteInput {
  const targets = members.map((m) => ({ backend: m.backend, model: m.model.trim(), weight: weightValue(m.weight) }));
  const body: RouteInput = { ...form, backend: targets[0].backend, backend_model: targets[0].model };
  delete body.targets;
  delete body.policy;
  if (!isPlainGroup(targets, policy) || !isPlainGroup(before.members, before.policy)) {
    body.targets = targets;
    body.policy = policy;
  }
  return body;
}

/** A member as one short name: "fake", or "fake:big" when it is sent another model. */
export function memberName(m: Pick<Member, 'backend' | 'model'>): string {
  return m.model ? `${m.backend}:${m.model}` : m.backend;
}

/**
 * A group in few words for the routes list: "p1 ×2, p2 ×1 · weighted",
 * "p1, p2 · least busy"; "" for a route with one backend (the list shows
 * it as before).
 */
export function groupLabel(r: Pick<Route, 'targets' | 'policy'>): string {
  const ms = r.targets ?? [];
  if (ms.length < 2) return '';
  const weighted = policyOf(r.policy) === 'weighted';
  const names = ms.map((m) => memberName(m) + (weighted ? ` ×${m.weight || 1}` : ''));
  return `${names.join(', ')} · ${policyLabel(r.policy).toLowerCase()}`;
}

/**
 * Whether member i repeats an earlier member (the server keeps members
 * distinct by backend and model): the index of that member, or -1.
 */
export function repeatsMember(members: Member[], i: number): number {
  const m = members[i];
  return members.findIndex((o, k) => k < i && o.backend === m.backend && o.model.trim() === m.model.trim());
}

/** The fields of the route form the server's errors can name (targets[i].x is placed at its member). */
const routeFields = [
  'model_pattern', 'backend', 'backend_model', 'fallbacks', 'priority', 'enabled', 'hidden',
  'max_requests_per_minute', 'max_tokens_per_day', 'targets', 'policy', 'max_context',
];

/**
 * A save's error, split for the editor: by field, where a group member's
 * error keeps its whole path ("targets[1].weight", "targets[1]") so that
 * it is shown at that member's field; else a general message.
 */
export function routeErrors(err: unknown): { fields: Record<string, string>; general: string } {
  const fe = formError(err, routeFields);
  const param = (err as { param?: unknown } | null)?.param;
  if (fe.fields.targets !== undefined && typeof param === 'string' && param.startsWith('targets[')) {
    const fm = (err as { fieldMessage?: unknown }).fieldMessage;
    return { fields: { [param]: typeof fm === 'string' ? fm : fe.fields.targets }, general: '' };
  }
  return fe;
}

/**
 * Where a tester warning's step is in a chain whose first `groupSize`
 * steps are the route's group: "" for a route's one backend, "Group
 * backend 2: ", "Fallback 1: ".
 */
export function stepPrefix(step: number, groupSize: number): string {
  const g = Math.max(groupSize, 1);
  if (step < g) return groupSize > 1 ? `Group backend ${step + 1}: ` : '';
  return `Fallback ${step - g + 1}: `;
}
