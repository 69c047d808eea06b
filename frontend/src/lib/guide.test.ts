import { describe, expect, it } from 'vitest';
import type { Route } from './api';
import { baseURLs, configured, family, hasPattern, routesTo, suggestPattern } from './guide';

const route = (id: number, model_pattern: string, backend: string): Route => ({ id, model_pattern, backend, backend_model: '', fallbacks: [], priority: 0, enabled: true });
const local = (n: number) => ({ available: true, models: Array.from({ length: n }, () => ({}) as never) });

describe('configured', () => {
  it.each([
    ['nothing', 0, 0, false],
    ['a route', 1, 0, true],
    ['a local model', 0, 2, true],
    ['both', 3, 1, true],
  ])('with %s: %s', (_, routes, models, want) => {
    expect(configured({ routes, local: local(models) })).toBe(want);
  });
  it('a provider without a route still needs the guide (it routes nothing)', () => {
    expect(configured({ providers: 2, routes: 0, local: local(0) } as never)).toBe(false);
  });
  it('a local engine that is unavailable and has no models counts as none', () => {
    expect(configured({ routes: 0, local: { available: false, models: [] } })).toBe(false);
  });
  it('assumes configured while the status is unknown (no guide flashing by)', () => {
    expect(configured(null)).toBe(true);
  });
});

describe('suggestPattern', () => {
  it.each([
    ['https://api.openai.com/v1', [], 'gpt-*'],
    ['https://api.anthropic.com', ['claude-sonnet-4-5'], 'claude-*'],
    ['http://127.0.0.1:9999/v1', ['fake-small', 'fake-large'], 'fake-*'],
    ['https://openrouter.ai/api/v1', ['meta-llama/llama-3-8b', 'meta-llama/llama-3-70b', 'openai/gpt-4o'], 'meta-llama/*'],
    ['http://127.0.0.1:11434/v1', ['qwen2.5:7b'], null],
    ['http://127.0.0.1:11434/v1', [], null],
    ['not a url', ['a-1', 'a-2', 'b-1'], 'a-*'],
  ])('%s with %j suggests %s', (base_url, models, want) => {
    expect(suggestPattern({ base_url }, models)).toBe(want);
  });
});

describe('family', () => {
  it('is the organisation or the first word, never the whole name', () => {
    expect(family('gpt-4o')).toBe('gpt-*');
    expect(family('org/model')).toBe('org/*');
    expect(family('plain')).toBeNull();
    expect(family('trailing-')).toBeNull();
  });
});

describe('routes', () => {
  const rs = [route(1, 'fast', 'openai'), route(2, 'gpt-*', 'openai'), route(3, 'claude-*', 'anthropic')];
  it('lists the routes to a provider in order', () => {
    expect(routesTo(rs, 'openai').map((r) => r.model_pattern)).toEqual(['fast', 'gpt-*']);
    expect(routesTo(rs, 'nobody')).toEqual([]);
  });
  it('knows a pattern that exists', () => {
    expect(hasPattern(rs, 'gpt-*')).toBe(true);
    expect(hasPattern(rs, 'gpt-4o')).toBe(false);
  });
});

describe('baseURLs', () => {
  it('gives /v1 to OpenAI clients and the bare address to Anthropic ones', () => {
    expect(baseURLs({ addr: '127.0.0.1:9', base_url: 'http://127.0.0.1:9' })).toEqual({ openai: 'http://127.0.0.1:9/v1', anthropic: 'http://127.0.0.1:9' });
    expect(baseURLs({ addr: '0.0.0.0:9', base_url: 'http://127.0.0.1:9/' })).toEqual({ openai: 'http://127.0.0.1:9/v1', anthropic: 'http://127.0.0.1:9' });
    expect(baseURLs({ addr: '127.0.0.1:7', base_url: '' })).toEqual({ openai: 'http://127.0.0.1:7/v1', anthropic: 'http://127.0.0.1:7' });
    expect(baseURLs(null).openai).toBe('http://127.0.0.1:11500/v1');
  });
});
