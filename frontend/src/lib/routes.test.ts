import { describe, expect, it } from 'vitest';
import type { Route } from './api';
import { blankRoute, reorder, routeInput } from './routes';

const r = (id: number, priority: number, model_pattern = 'm' + id): Route => ({
  id, priority, model_pattern, backend: 'local', backend_model: '', fallbacks: [], enabled: true,
});

function apply(routes: Route[], changes: { id: number; priority: number }[]) {
  const out = routes.map((x) => ({ ...x, priority: changes.find((c) => c.id === x.id)?.priority ?? x.priority }));
  // The server's order: priority desc, then (same kind) older first.
  return out.sort((a, b) => b.priority - a.priority || a.id - b.id).map((x) => x.id);
}

describe('reorder', () => {
  it('moves a route up past an equal-priority one', () => {
    const rs = [r(1, 0), r(2, 0), r(3, 0)];
    expect(apply(rs, reorder(rs, 2, 1))).toEqual([1, 3, 2]);
    expect(apply(rs, reorder(rs, 0, 2))).toEqual([2, 3, 1]);
  });

  it('keeps priorities that already fit', () => {
    const rs = [r(1, 100), r(2, 50), r(3, 10)];
    const ch = reorder(rs, 1, 0);
    expect(ch).toHaveLength(1);
    expect(apply(rs, ch)).toEqual([2, 1, 3]);
  });

  it('moves down and up across the whole list', () => {
    const rs = [r(1, 5), r(2, 5), r(3, 1), r(4, 0), r(5, -3)];
    for (let from = 0; from < rs.length; from++) {
      for (let to = 0; to < rs.length; to++) {
        const want = rs.map((x) => x.id);
        const [m] = want.splice(from, 1);
        want.splice(to, 0, m);
        expect(apply(rs, reorder(rs, from, to))).toEqual(want);
      }
    }
  });

  it('does nothing for a move in place or out of range', () => {
    const rs = [r(1, 0), r(2, 0)];
    expect(reorder(rs, 1, 1)).toEqual([]);
    expect(reorder(rs, 0, -1)).toEqual([]);
    expect(reorder(rs, 1, 2)).toEqual([]);
  });
});

describe('route editor', () => {
  it('starts a new route enabled and listed', () => {
    expect(blankRoute('openai')).toEqual({
      model_pattern: '', backend: 'openai', backend_model: '', fallbacks: [], priority: 0, enabled: true, hidden: false,
    });
  });

  it('copies a route with every field, hidden false when the server sent none', () => {
    const old = r(7, 3, 'gpt-*');
    const input = routeInput(old);
    expect(input).toEqual({ model_pattern: 'gpt-*', backend: 'local', backend_model: '', fallbacks: [], priority: 3, enabled: true, hidden: false });
    expect('id' in input).toBe(false);
    expect(routeInput({ ...old, hidden: true, fallbacks: null }).hidden).toBe(true);
  });

  it('does not share the fallbacks array with the route', () => {
    const old = { ...r(1, 0), fallbacks: ['openai'] };
    const input = routeInput(old);
    input.fallbacks!.push('local');
    expect(old.fallbacks).toEqual(['openai']);
  });
});
