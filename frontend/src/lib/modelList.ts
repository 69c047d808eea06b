// The models each backend offers (GET /api/providers/{name}/models; "local"
// lists the local models), for the route editor's suggestions. Answers are
// kept a minute: the editor asks on every backend change.

import { call } from './client';
import type { BackendModels } from './api';

const cache = new Map<string, { at: number; answer: Promise<BackendModels> }>();

/** The models backend offers; a failed call answers "not known" with its reason. */
export function backendModels(name: string, maxAgeMs = 60_000): Promise<BackendModels> {
  const hit = cache.get(name);
  if (hit && Date.now() - hit.at < maxAgeMs) return hit.answer;
  const answer = call<BackendModels>('GET', `/api/providers/${encodeURIComponent(name)}/models`).catch(
    (e: unknown): BackendModels => {
      cache.delete(name);
      return { provider: name, known: false, models: [], error: e instanceof Error ? e.message : String(e) };
    },
  );
  cache.set(name, { at: Date.now(), answer });
  return answer;
}

/** Forgets the cached lists (a provider changed, or was tested again). */
export function forgetModels(name?: string) {
  if (name === undefined) cache.clear();
  else cache.delete(name);
}
