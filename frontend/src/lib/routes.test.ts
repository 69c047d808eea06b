import { describe, expect, it } from 'vitest';
import type { RequestAttempt, Route } from './api';
import { ApiError } from './client';
import {
  blankRoute, budgetLabel, budgetSpent, budgetValue, compact, evaluationOrder, failedBefore, fallbackProblem, groupLabel, isPlainGroup, isWildcard, memberName,
  membersOf, policyLabel, policyOf, priorities, reorder, repeatsMember, routeBody, routeErrors, routeInput, stepPrefix, weightValue, type Ranked,
} from './routes';

const r = (id: number, priority: number, model_pattern = 'm' + id): Route => ({
  id, priority, model_pattern, backend: 'local', backend_model: '', fallbacks: [], enabled: true,
});

function apply(routes: Ranked[], changes: { id: number; priority: number }[]) {
  const out = routes.map((x) => ({ ...x, priority: changes.find((c) => c.id === x.id)?.priority ?? x.priority }));
  return evaluationOrder(out).map((x) => x.id);
}

/** The fewest priority changes that give `want`, by trying every assignment in [lo, hi]. */
function bruteMinimum(routes: Ranked[], want: number[], lo: number, hi: number): number {
  let best = Infinity;
  const p = routes.map(() => lo);
  for (;;) {
    const trial = routes.map((r, i) => ({ ...r, priority: p[i] }));
    const changed = trial.filter((t, i) => t.priority !== routes[i].priority).length;
    if (changed < best && evaluationOrder(trial).every((t, i) => t.id === want[i])) best = changed;
    let k = 0;
    while (k < p.length && p[k] === hi) p[k++] = lo;
    if (k === p.length) return best;
    p[k]++;
  }
}

function moved(ids: number[], from: number, to: number) {
  const want = [...ids];
  const [m] = want.splice(from, 1);
  want.splice(to, 0, m);
  return want;
}

describe('reorder', () => {
  it('moves a route up past an equal-priority one by changing only that route', () => {
    const rs = [r(1, 0), r(2, 0), r(3, 0)];
    expect(reorder(rs, 2, 0)).toEqual([{ id: 3, priority: 1 }]);
    expect(reorder(rs, 0, 2)).toEqual([{ id: 1, priority: -1 }]);
    expect(apply(rs, reorder(rs, 2, 1))).toEqual([1, 3, 2]);
    expect(apply(rs, reorder(rs, 0, 2))).toEqual([2, 3, 1]);
  });

  it('changes one route to move any route to the top or the bottom (the issue: one arrow rewrote them all)', () => {
    const rs = Array.from({ length: 10 }, (_, i) => r(i + 1, 0));
    const ids = rs.map((x) => x.id);
    for (const [from, to] of [[9, 0], [0, 9], [5, 0], [3, 9]]) {
      const ch = reorder(rs, from, to);
      expect(ch, `${from} -> ${to}`).toEqual([{ id: rs[from].id, priority: to === 0 ? 1 : -1 }]);
      expect(apply(rs, ch)).toEqual(moved(ids, from, to));
    }
    // In the middle of equal priorities the tie-break (older first) pins the
    // order: the cheaper side moves, and no more.
    expect(reorder(rs, 5, 4)).toHaveLength(5);
    expect(reorder(rs, 3, 7)).toHaveLength(3);
    expect(apply(rs, reorder(rs, 3, 7))).toEqual(moved(ids, 3, 7));
  });

  it('changes only the moved route when priorities leave room', () => {
    const rs = Array.from({ length: 8 }, (_, i) => r(i + 1, 100 - 10 * i));
    const ids = rs.map((x) => x.id);
    for (let from = 0; from < rs.length; from++) {
      for (let to = 0; to < rs.length; to++) {
        if (from === to) continue;
        const ch = reorder(rs, from, to);
        expect(ch.map((c) => c.id), `${from} -> ${to}`).toEqual([rs[from].id]);
        expect(apply(rs, ch)).toEqual(moved(ids, from, to));
      }
    }
  });

  it('keeps priorities that already fit', () => {
    const rs = [r(1, 100), r(2, 50), r(3, 10)];
    const ch = reorder(rs, 1, 0);
    expect(ch).toEqual([{ id: 2, priority: 101 }]);
    expect(apply(rs, ch)).toEqual([2, 1, 3]);
  });

  it('respects the tie-break: an exact pattern comes before a wildcard at equal priority', () => {
    const rs = [r(2, 0, 'fast'), r(1, 0, 'gpt-*')]; // the server's order: exact first
    expect(apply(rs, [])).toEqual([2, 1]);
    const ch = reorder(rs, 1, 0);
    expect(ch).toHaveLength(1);
    expect(apply(rs, ch)).toEqual([1, 2]);
  });

  it('changes the fewest routes for every move (checked against every assignment)', () => {
    const lists: Ranked[][] = [
      [r(1, 0), r(2, 0), r(3, 0), r(4, 0)],
      [r(1, 5), r(2, 5), r(3, 1), r(4, 0)],
      [r(4, 2, 'a*'), r(1, 1, 'b'), r(3, 1, 'c'), r(2, -1, 'd?')],
      [r(1, 1, 'x*'), r(2, 1, 'y*'), r(3, 0, 'z'), r(4, 0, 'w')],
    ];
    for (const rs of lists) {
      const order = evaluationOrder(rs);
      const ids = order.map((x) => x.id);
      for (let from = 0; from < order.length; from++) {
        for (let to = 0; to < order.length; to++) {
          if (from === to) continue;
          const want = moved(ids, from, to);
          const ch = reorder(order, from, to);
          expect(apply(order, ch), `${ids} ${from}->${to}`).toEqual(want);
          expect(ch.length, `${ids} ${from}->${to}`).toBe(bruteMinimum(order, want, -4, 7));
        }
      }
    }
  });

  it('computes the changes for any wanted order, not only a single move', () => {
    const rs = [r(1, 0), r(2, 0), r(3, 0), r(4, 0)];
    const want = [rs[3], rs[2], rs[1], rs[0]];
    const ch = priorities(want);
    expect(apply(rs, ch)).toEqual([4, 3, 2, 1]);
    expect(ch.length).toBe(bruteMinimum(rs, [4, 3, 2, 1], -4, 4));
  });

  it('does nothing for a move in place or out of range', () => {
    const rs = [r(1, 0), r(2, 0)];
    expect(reorder(rs, 1, 1)).toEqual([]);
    expect(reorder(rs, 0, -1)).toEqual([]);
    expect(reorder(rs, 1, 2)).toEqual([]);
  });
});

describe('patterns and fallbacks', () => {
  it('tells wildcards as the server does', () => {
    expect(['gpt-*', 'claude-3-?-x', 'm[ab]'].map(isWildcard)).toEqual([true, true, true]);
    expect(['gpt-4o', 'mlx-community/Qwen3-4B', 'fast'].map(isWildcard)).toEqual([false, false, false]);
  });

  it('refuses the fallbacks the server would', () => {
    expect(fallbackProblem('openai', [], 'openai', '')).toMatch(/already the route's backend/);
    expect(fallbackProblem('openai', [], 'openai', 'gpt-4o-mini')).toBe('');
    expect(fallbackProblem('openai', ['local'], 'local', '')).toMatch(/already in the chain/);
    expect(fallbackProblem('openai', [], '', '')).toBe('choose a backend');
    expect(fallbackProblem('openai', ['local'], 'backup', '')).toBe('');
  });

  it("refuses a fallback that repeats a member of the route's group", () => {
    const group = [{ backend: 'openai', model: '', weight: 1 }, { backend: 'backup', model: 'big', weight: 1 }, { backend: 'local', model: '', weight: 1 }];
    expect(fallbackProblem('openai', [], 'backup', 'big', group)).toBe("backup:big is already in the route's group");
    expect(fallbackProblem('openai', [], 'local', '', group)).toBe("local is already in the route's group");
    expect(fallbackProblem('openai', [], 'backup', 'small', group), 'another model of a member is fine').toBe('');
    expect(fallbackProblem('openai', [], 'openai', '', group)).toMatch(/already the route's backend/);
    // A fallback without a model is sent the first member's model (or the requested name).
    const aliased = [{ backend: 'openai', model: 'big', weight: 1 }, { backend: 'backup', model: 'big', weight: 1 }];
    expect(fallbackProblem('openai', [], 'backup', '', aliased)).toBe("backup is already in the route's group");
    expect(fallbackProblem('openai', [], 'openai', 'big', aliased)).toBe("openai:big is already in the route's group");
    expect(fallbackProblem('openai', [], 'openai', 'small', aliased)).toBe('');
    expect(fallbackProblem('openai', [], 'backup', '', group), 'backup is sent the requested name, backup:big another').toBe('');
  });
});

describe('route editor', () => {
  it('starts a new route enabled, listed and without a budget', () => {
    expect(blankRoute('openai')).toEqual({
      model_pattern: '', backend: 'openai', backend_model: '', fallbacks: [], priority: 0, enabled: true, hidden: false,
      max_requests_per_minute: null, max_tokens_per_day: null, max_context: null,
    });
  });

  it('copies a route with every field, hidden false and no budget when the server sent none', () => {
    const old = r(7, 3, 'gpt-*');
    const input = routeInput(old);
    expect(input).toEqual({
      model_pattern: 'gpt-*', backend: 'local', backend_model: '', fallbacks: [], priority: 3, enabled: true, hidden: false,
      max_requests_per_minute: null, max_tokens_per_day: null, max_context: null,
    });
    expect('id' in input).toBe(false);
    const budgeted = routeInput({ ...old, max_tokens_per_day: 5000, usage: { requests_this_minute: 1, tokens_today: 2 } });
    expect(budgeted.max_tokens_per_day).toBe(5000);
    expect('usage' in budgeted, 'usage is not sent back').toBe(false);
    expect(routeInput({ ...old, hidden: true, fallbacks: null }).hidden).toBe(true);
  });

  it("copies a route's group, policy and context window without sharing them", () => {
    const targets = [{ backend: 'p1', model: '', weight: 2 }, { backend: 'p2', model: 'big', weight: 1 }];
    const old = { ...r(1, 0), backend: 'p1', targets, policy: 'weighted' as const, max_context: 32768 };
    const input = routeInput(old);
    expect([input.targets, input.policy, input.max_context]).toEqual([targets, 'weighted', 32768]);
    input.targets![0].weight = 5;
    expect(old.targets[0].weight).toBe(2);
  });

  it('does not share the fallbacks array with the route', () => {
    const old = { ...r(1, 0), fallbacks: ['openai'] };
    const input = routeInput(old);
    input.fallbacks!.push('local');
    expect(old.fallbacks).toEqual(['openai']);
  });
});

describe('failedBefore', () => {
  const a = (backend: string, model: string, outcome: string, extra: Partial<RequestAttempt> = {}): RequestAttempt => ({
    backend, model, outcome, status: 0, duration_ms: 1, ...extra,
  });
  it.each([
    ['nothing failed', [a('fake', 'fake-small', 'answered')], []],
    ['no attempts (an older server)', undefined, []],
    [
      'a failover between two models of one provider names both',
      [a('fake', 'fake-large', 'failed', { status: 503, reason: 'HTTP 503' }), a('fake', 'fake-small', 'answered')],
      ['fake-large at fake failed (HTTP 503)'],
    ],
    [
      'retries count once, with the last reason',
      [
        a('acme', 'gpt-4o', 'failed', { status: 429, reason: 'rate limited (429)' }),
        a('acme', 'gpt-4o', 'failed', { status: 503, reason: 'HTTP 503', retry: 1 }),
        a('backup', 'gpt-4o', 'answered'),
      ],
      ['gpt-4o at acme failed (HTTP 503)'],
    ],
    [
      'a skipped backend and one without a reason',
      [a('acme', 'm', 'skipped', { status: 503, reason: 'cooling down' }), a('dead', 'm', 'failed', { status: 502 }), a('fake', 'm', 'answered')],
      ['m at acme was skipped (cooling down)', 'm at dead failed (HTTP 502)'],
    ],
  ])('%s', (_name, attempts, want) => {
    expect(failedBefore(attempts as RequestAttempt[] | undefined)).toEqual(want);
  });
});

describe('budget', () => {
  it('reads an editor field: empty is no limit', () => {
    expect([null, undefined, '', '  ', '60', 60, 0, 'x'].map(budgetValue)).toEqual([null, null, null, null, 60, 60, 0, null]);
  });

  it('writes counts short', () => {
    expect([0, 950, 1000, 1500, 40_000, 123_456, 1_000_000, 2_500_000_000].map(compact)).toEqual(['0', '950', '1k', '1.5k', '40k', '123k', '1M', '2.5B']);
  });

  it('shows limits and use for the routes list', () => {
    const usage = { requests_this_minute: 12, tokens_today: 40_000 };
    expect(budgetLabel({ max_requests_per_minute: 60, max_tokens_per_day: 1_000_000, usage })).toBe('12/60 per min · 40k/1M tokens today');
    expect(budgetLabel({ max_requests_per_minute: null, max_tokens_per_day: 5000, usage })).toBe('40k/5k tokens today');
    expect(budgetLabel({ max_requests_per_minute: 10 })).toBe('0/10 per min');
    expect(budgetLabel({ max_requests_per_minute: null, max_tokens_per_day: null, usage })).toBe('');
  });

  it('says when a limit is used up', () => {
    expect(budgetSpent({ max_requests_per_minute: 12, usage: { requests_this_minute: 12, tokens_today: 0 } })).toBe(true);
    expect(budgetSpent({ max_requests_per_minute: 13, max_tokens_per_day: 100, usage: { requests_this_minute: 12, tokens_today: 99 } })).toBe(false);
    expect(budgetSpent({ max_tokens_per_day: 100 })).toBe(false);
  });
});

describe('groups', () => {
  const m = (backend: string, model = '', weight = 1) => ({ backend, model, weight });

  it('reads a route as members: its targets, or its one backend from an older server', () => {
    expect(membersOf({ backend: 'acme', backend_model: 'big' })).toEqual([m('acme', 'big')]);
    expect(membersOf({ backend: 'p1', backend_model: '', targets: [m('p1', '', 0), m('p2', 'x', 3)] }), 'weight 0 reads as 1').toEqual([m('p1'), m('p2', 'x', 3)]);
    expect(membersOf({ backend: 'acme', backend_model: '', targets: [] })).toEqual([m('acme')]);
  });

  it('names policies, reading "" and unknown values as first', () => {
    expect(['', undefined, null, 'first', 'weighted', 'least-busy', 'random'].map(policyOf)).toEqual(['first', 'first', 'first', 'first', 'weighted', 'least-busy', 'first']);
    expect(['first', 'weighted', 'least-busy'].map(policyLabel)).toEqual(['First available', 'Weighted', 'Least busy']);
  });

  it('tells a plain group of one from a real group', () => {
    expect(isPlainGroup([m('a')], 'first')).toBe(true);
    expect(isPlainGroup([m('a', '', 0)], '')).toBe(true);
    expect(isPlainGroup([m('a', '', 2)], 'first')).toBe(false);
    expect(isPlainGroup([m('a')], 'weighted')).toBe(false);
    expect(isPlainGroup([m('a'), m('b')], 'first')).toBe(false);
  });

  it('reads a weight field: empty is 1, anything else is sent as typed', () => {
    expect(['', ' ', null, undefined, '3', 3, 0, 1.5, 5000].map(weightValue)).toEqual([1, 1, 1, 1, 3, 3, 0, 1.5, 5000]);
  });

  const form = { ...blankRoute('old'), model_pattern: 'fast' };
  const plain = { members: [m('old')], policy: 'first' };

  it.each([
    ['one backend, as before groups: no targets, no policy', [m('acme', ' big ')], 'first', plain, { backend: 'acme', backend_model: 'big' }],
    [
      'a group: targets and policy, backend is its first member',
      [m('p1', '', 2), m('p2', 'x')], 'weighted', plain,
      { backend: 'p1', backend_model: '', targets: [m('p1', '', 2), m('p2', 'x')], policy: 'weighted' },
    ],
    [
      'a group cut down to one replaces the stored group',
      [m('p2', 'x')], 'first', { members: [m('p1'), m('p2', 'x')], policy: 'least-busy' },
      { backend: 'p2', backend_model: 'x', targets: [m('p2', 'x')], policy: 'first' },
    ],
    [
      'one backend with a policy set through the API keeps it',
      [m('p1')], 'least-busy', { members: [m('p1')], policy: 'least-busy' },
      { backend: 'p1', backend_model: '', targets: [m('p1')], policy: 'least-busy' },
    ],
    [
      'an empty weight is 1; a bad one is sent for the server to name',
      [m('p1', '', '' as unknown as number), m('p2', '', 0)], 'weighted', plain,
      { backend: 'p1', backend_model: '', targets: [m('p1'), m('p2', '', 0)], policy: 'weighted' },
    ],
  ])('%s', (_name, members, policy, before, want) => {
    const body = routeBody({ ...form, targets: [m('stale')], policy: 'first' }, members, policy as 'first', before);
    const { targets: _t, policy: _p, ...rest } = form as typeof form & { targets?: unknown; policy?: unknown };
    expect(body).toEqual({ ...rest, ...want });
  });

  it('does not share the members with the body', () => {
    const members = [m('p1'), m('p2')];
    const body = routeBody(form, members, 'first', plain);
    body.targets![0].weight = 9;
    expect(members[0].weight).toBe(1);
  });

  it('labels a group for the routes list', () => {
    expect(groupLabel({ targets: [m('p1', '', 2), m('p2')], policy: 'weighted' })).toBe('p1 ×2, p2 ×1 · weighted');
    expect(groupLabel({ targets: [m('p1'), m('p2', 'big')], policy: 'least-busy' })).toBe('p1, p2:big · least busy');
    expect(groupLabel({ targets: [m('p1'), m('p2')], policy: '' })).toBe('p1, p2 · first available');
    expect(groupLabel({ targets: [m('p1')], policy: 'weighted' }), 'one backend: the list shows it as before').toBe('');
    expect(groupLabel({}), 'an older server').toBe('');
    expect([m('fake'), m('fake', 'big')].map(memberName)).toEqual(['fake', 'fake:big']);
  });

  it('finds a member that repeats an earlier one', () => {
    const ms = [m('p1'), m('p2', 'x'), m('p1', ''), m('p2', ' x '), m('p2')];
    expect(ms.map((_, i) => repeatsMember(ms, i))).toEqual([-1, -1, 0, 1, -1]);
  });

  it("places the server's errors: a member's at its path, others at their field", () => {
    const e = (param: string | null, msg: string) => new ApiError(400, param ? `${param}: ${msg}` : msg, 'invalid_request_error', param);
    expect(routeErrors(e('targets[1].weight', 'is 0; give 1 to 1000'))).toEqual({ fields: { 'targets[1].weight': 'is 0; give 1 to 1000' }, general: '' });
    expect(routeErrors(e('targets[2]', 'repeats targets[0]'))).toEqual({ fields: { 'targets[2]': 'repeats targets[0]' }, general: '' });
    expect(routeErrors(e('targets', 'has 17 members; at most 16'))).toEqual({ fields: { targets: 'has 17 members; at most 16' }, general: '' });
    expect(routeErrors(e('policy', 'is "random"'))).toEqual({ fields: { policy: 'is "random"' }, general: '' });
    expect(routeErrors(e('max_context', 'is 0'))).toEqual({ fields: { max_context: 'is 0' }, general: '' });
    expect(routeErrors(e('fallbacks[1]', 'is in the group'))).toEqual({ fields: { fallbacks: 'fallbacks[1]: is in the group' }, general: '' });
    expect(routeErrors(e(null, 'database is locked'))).toEqual({ fields: {}, general: 'database is locked' });
  });
});

describe('stepPrefix', () => {
  it.each([
    [0, 0, ''], [1, 0, 'Fallback 1: '], [2, 1, 'Fallback 2: '],
    [0, 3, 'Group backend 1: '], [2, 3, 'Group backend 3: '], [3, 3, 'Fallback 1: '],
  ])('step %i with a group of %i: %j', (step, size, want) => {
    expect(stepPrefix(step, size)).toBe(want);
  });
});
