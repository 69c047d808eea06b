// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import type { Provider } from '../lib/api';

let providerList: Provider[] = [];

vi.mock('../lib/client', () => ({
  call: vi.fn(async (_method: string, path: string) => {
    if (path === '/api/routes') return [];
    if (path === '/api/providers') return providerList;
    if (path.startsWith('/api/routes/resolve')) return null;
    return [];
  }),
}));
vi.mock('../lib/live', () => ({ onTopics: () => () => {} }));

const { default: Routes } = await import('./Routes.svelte');

afterEach(() => {
  cleanup();
  location.hash = '';
});

describe('Routes without routes', () => {
  it("points to the guide's suggested routes when a provider exists", async () => {
    providerList = [{ name: 'fake', type: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key_env: '', has_api_key: false, api_key_hint: '', api_key_source: '', default_max_tokens: 0 }];
    const { findByTestId } = render(Routes);
    const empty = await findByTestId('routes-empty');
    expect(empty.textContent).toContain('No routes yet');
    const guide = await findByTestId('routes-empty-guide');
    await vi.waitFor(() => expect(guide.textContent?.trim()).toBe('See suggested routes'));
    await fireEvent.click(guide);
    expect(location.hash).toBe('#/start');
  });

  it('sends to Get started when there is no provider either', async () => {
    providerList = [];
    const { findByTestId } = render(Routes);
    const guide = await findByTestId('routes-empty-guide');
    await vi.waitFor(() => expect(guide.textContent?.trim()).toBe('Get started'));
    expect((await findByTestId('routes-empty')).textContent).toContain('adds a provider');
  });
});
