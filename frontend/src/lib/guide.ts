// The "Get started" guide's decisions, as pure functions: whether the app
// still needs its first provider or local model, which wildcard route a
// provider's models suggest, and which routes already send to it.

import type { Provider, Route, Status } from './api';

/**
 * Whether the server can answer a model yet: a route sends some to a
 * provider, or a local model is there (a model no route matches goes to
 * the local engine). Until then the app opens on the guide, which adds the
 * provider and suggests its route; a provider alone routes nothing.
 */
export function configured(s: Pick<Status, 'routes' | 'local'> | null | undefined): boolean {
  if (!s) return true; // not known yet: open where the user would expect
  return (s.routes ?? 0) > 0 || (s.local?.models?.length ?? 0) > 0;
}

/** The wildcard pattern the big vendors' model names share, by API host. */
const vendorPatterns: [host: string, pattern: string][] = [
  ['api.openai.com', 'gpt-*'],
  ['api.anthropic.com', 'claude-*'],
  ['api.mistral.ai', 'mistral-*'],
  ['api.deepseek.com', 'deepseek-*'],
];

function host(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return '';
  }
}

/**
 * The one wildcard route a provider makes possible: its vendor's family
 * (`gpt-*` for OpenAI), else the prefix most of its models share
 * (`fake-*` for fake-small and fake-large, `meta-llama/*` for an
 * organisation's models); null when its models share none.
 */
export function suggestPattern(p: Pick<Provider, 'base_url'>, models: readonly string[]): string | null {
  const h = host(p.base_url);
  const vendor = vendorPatterns.find(([vh]) => h === vh);
  if (vendor) return vendor[1];
  const counts = new Map<string, number>();
  for (const m of models) {
    const f = family(m);
    if (f) counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  let best: string | null = null;
  let n = 1; // a prefix only one model has suggests nothing
  for (const [k, c] of counts) {
    if (c > n) {
      best = k;
      n = c;
    }
  }
  return best;
}

/** A model's family as a wildcard: its organisation (`meta-llama/*`) or its first word (`gpt-*`). */
export function family(model: string): string | null {
  const slash = model.indexOf('/');
  if (slash > 0) return model.slice(0, slash + 1) + '*';
  const head = /^[^-_.:/]+[-_.:]/.exec(model);
  return head && head[0].length < model.length ? head[0] + '*' : null;
}

/** The routes whose first backend is this provider, in the server's order. */
export function routesTo(routes: readonly Route[], provider: string): Route[] {
  return routes.filter((r) => r.backend === provider);
}

/** Whether a route with exactly this pattern exists (adding it again would only duplicate it). */
export function hasPattern(routes: readonly Route[], pattern: string): boolean {
  return routes.some((r) => r.model_pattern === pattern);
}

/**
 * The base URLs a tool needs: OpenAI-style clients take `/v1`, Anthropic's
 * SDKs and Claude Code the bare address.
 */
export function baseURLs(s: Pick<Status, 'addr' | 'base_url'> | null | undefined): { openai: string; anthropic: string } {
  const anthropic = (s?.base_url || 'http://' + (s?.addr || '127.0.0.1:11500')).replace(/\/+$/, '').replace(/\/v1$/, '');
  return { openai: anthropic + '/v1', anthropic };
}
