// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';

// The admin API, as the guide calls it: providers, routes and a provider's
// connection test (its models).
const api = vi.hoisted(() => ({
  providers: [] as unknown[],
  routes: [] as { id: number; model_pattern: string; backend: string }[],
  models: ['fake-small', 'fake-large'],
  calls: [] as [string, string, unknown][],
}));
vi.mock('../lib/client', async (orig) => ({
  ...(await orig<typeof import('../lib/client')>()),
  call: vi.fn(async (method: string, path: string, body?: unknown) => {
    api.calls.push([method, path, body]);
    if (path === '/api/providers') return api.providers;
    if (path === '/api/routes' && method === 'GET') return api.routes;
    if (path === '/api/routes' && method === 'POST') {
      const r = { id: api.routes.length + 1, ...(body as { model_pattern: string; backend: string }) };
      api.routes.push(r);
      return r;
    }
    if (path.endsWith('/test')) return { ok: true, latency_ms: 3, model_count: api.models.length, models: api.models };
    if (path === '/api/status') return null;
    throw new Error('unexpected call ' + method + ' ' + path);
  }),
}));

import GetStarted from './GetStarted.svelte';
import { live, pending } from '../lib/state.svelte';

const status = (providers: number) =>
  ({ version: 'dev', addr: '127.0.0.1:9', base_url: 'http://127.0.0.1:9', data_dir: '/data', providers, routes: 0, local: { available: true, models: [] } }) as never;

beforeEach(() => {
  api.providers = [];
  api.routes = [];
  api.calls = [];
  pending.addProvider = false;
  pending.returnTo = '';
  location.hash = '';
});
afterEach(cleanup);

describe('GetStarted', () => {
  it('with nothing configured: asks for a provider, says how to add a local model, shows the URLs', async () => {
    live.status = status(0);
    const { getByTestId, queryByTestId } = render(GetStarted);
    await waitFor(() => expect(getByTestId('guide-routes-waiting')).toBeTruthy());
    expect(getByTestId('guide-step-source').dataset.done).toBe('false');
    expect(getByTestId('guide-local-how').textContent).toContain('/data/models/<org>/<name>');
    expect(getByTestId('guide-local-how').textContent).toContain('Hugging Face cache');
    expect(getByTestId('guide-url-openai').textContent).toBe('http://127.0.0.1:9/v1');
    expect(getByTestId('guide-url-anthropic').textContent).toBe('http://127.0.0.1:9');
    expect(queryByTestId('guide-provider')).toBeNull();
  });

  it('"Add a provider" opens the Providers screen\'s add dialog and asks to come back', async () => {
    live.status = status(0);
    const { getByTestId } = render(GetStarted);
    await fireEvent.click(getByTestId('guide-add-provider'));
    expect(pending.addProvider).toBe(true);
    expect(pending.returnTo).toBe('start');
    expect(location.hash).toBe('#/providers');
  });

  it('with a provider: lists its models and adds the wildcard route they suggest', async () => {
    api.providers = [{ name: 'fake', type: 'openai', base_url: 'http://127.0.0.1:7/v1' }];
    live.status = status(1);
    const { getByTestId, queryByTestId, getByRole } = render(GetStarted);
    await waitFor(() => expect(getByTestId('guide-models').textContent).toContain('fake-large'));
    expect(getByTestId('guide-models').textContent).toMatch(/^\s*2 models:/);
    expect(getByTestId('guide-step-source').dataset.done).toBe('true');
    expect(getByTestId('guide-suggestion').dataset.pattern).toBe('fake-*');
    await fireEvent.click(getByRole('button', { name: 'Add route fake-* to fake' }));
    await waitFor(() => expect(getByTestId('guide-route').dataset.pattern).toBe('fake-*'));
    expect(api.calls).toContainEqual(['POST', '/api/routes', { model_pattern: 'fake-*', backend: 'fake' }]);
    expect(queryByTestId('guide-suggestion')).toBeNull(); // added: no longer suggested
    expect(getByTestId('guide-step-routes').dataset.done).toBe('true');
  });

  it('shows a provider added elsewhere once the status counts it', async () => {
    live.status = status(0);
    const { getByTestId, findByTestId } = render(GetStarted);
    await waitFor(() => expect(getByTestId('guide-routes-waiting')).toBeTruthy());
    api.providers = [{ name: 'fake', type: 'openai', base_url: 'http://127.0.0.1:7/v1' }];
    live.status = status(1); // the next poll
    expect((await findByTestId('guide-provider')).dataset.name).toBe('fake');
    expect(getByTestId('guide-step-source').dataset.done).toBe('true');
  });

  it('says when a provider cannot list its models, and can ask again', async () => {
    api.providers = [{ name: 'down', type: 'openai', base_url: 'http://127.0.0.1:7/v1' }];
    live.status = status(1);
    const { call } = await import('../lib/client');
    vi.mocked(call).mockImplementationOnce(async () => api.providers).mockImplementationOnce(async () => []).mockImplementationOnce(async () => ({ ok: false, error: 'Nothing is listening', status: 502 }));
    const { getByTestId, getByRole } = render(GetStarted);
    await waitFor(() => expect(getByTestId('guide-models-error').textContent).toContain('Nothing is listening'));
    await fireEvent.click(getByRole('button', { name: 'Ask down again' }));
    await waitFor(() => expect(getByTestId('guide-models').textContent).toContain('fake-small'));
  });
});
