import type { Route, RouteInput } from './api';

/**
 * The priority changes that put `routes` (in evaluation order) into the
 * order they would have after moving routes[from] to position `to`.
 * Priorities end strictly descending from top to bottom, so the order no
 * longer depends on tie-breaks (exact before wildcard, older first); each
 * route keeps its priority where it already fits, else gets the least
 * bump.
 */
export function reorder(routes: Route[], from: number, to: number): { id: number; priority: number }[] {
  if (from === to || from < 0 || to < 0 || from >= routes.length || to >= routes.length) return [];
  const next = [...routes];
  const [moved] = next.splice(from, 1);
  next.splice(to, 0, moved);
  const changes: { id: number; priority: number }[] = [];
  let below: number | null = null; // priority of the route under the current one
  for (let k = next.length - 1; k >= 0; k--) {
    const r = next[k];
    let p = r.priority;
    if (below !== null && p <= below) p = below + 1;
    if (p !== r.priority) changes.push({ id: r.id, priority: p });
    below = p;
  }
  // A moved-down route may now sit under routes it used to outrank by more
  // than one: push it under its new upper neighbour instead of bumping all above.
  return minimise(next, changes);
}

function minimise(order: Route[], changes: { id: number; priority: number }[]) {
  const k = order.length;
  if (changes.length <= 1 || k < 2) return changes;
  // Alternative: walk top-down, lowering where needed.
  const alt: { id: number; priority: number }[] = [];
  let above: number | null = null;
  for (const r of order) {
    let p = r.priority;
    if (above !== null && p >= above) p = above - 1;
    if (p !== r.priority) alt.push({ id: r.id, priority: p });
    above = p;
  }
  return alt.length < changes.length ? alt : changes;
}

/** Splits "provider:model" into its parts. */
export function splitFallback(entry: string): { backend: string; model: string } {
  const i = entry.indexOf(':');
  return i < 0 ? { backend: entry, model: '' } : { backend: entry.slice(0, i), model: entry.slice(i + 1) };
}

/** An empty route for the editor: enabled, listed, no alias or fallbacks. */
export function blankRoute(backend = 'local'): RouteInput {
  return { model_pattern: '', backend, backend_model: '', fallbacks: [], priority: 0, enabled: true, hidden: false };
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
  };
}
