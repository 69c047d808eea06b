// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import type { Provider, Resolution, Route } from '../lib/api';

let providerList: Provider[] = [];
let routeList: Route[] = [];
let resolution: Resolution | null = null;

vi.mock('../lib/client', () => ({
  call: vi.fn(async (_method: string, path: string) => {
    if (path === '/api/routes') return routeList;
    if (path === '/api/providers') return providerList;
    if (path.startsWith('/api/routes/resolve')) return resolution;
    return [];
  }),
}));
vi.mock('../lib/live', () => ({ onTopics: () => () => {} }));

const { default: Routes } = await import('./Routes.svelte');

afterEach(() => {
  cleanup();
  location.hash = '';
  routeList = [];
  resolution = null;
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

describe('Routes with a group', () => {
  const group: Route = {
    id: 1, model_pattern: 'fast', backend: 'p1', backend_model: '', fallbacks: ['local'], priority: 0, enabled: true,
    targets: [{ backend: 'p1', model: '', weight: 2 }, { backend: 'p2', model: 'big', weight: 1 }], policy: 'weighted', max_context: 32768,
  };
  const single: Route = { id: 2, model_pattern: 'gpt-*', backend: 'p1', backend_model: 'x', fallbacks: [], priority: 0, enabled: true, targets: [{ backend: 'p1', model: 'x', weight: 1 }], policy: 'first' };

  it('lists a group compactly and a single backend as before', async () => {
    routeList = [group, single];
    const { findAllByTestId } = render(Routes);
    const rows = await findAllByTestId('route-row');
    const cell = rows[0].querySelector('[data-testid="route-group-cell"]') as HTMLElement;
    expect(cell.dataset.label).toBe('p1 ×2, p2:big ×1 · weighted');
    expect(cell.querySelector('.sr-only')?.textContent).toBe('Group: p1 ×2, p2:big ×1 · weighted');
    expect(rows[0].querySelector('[data-testid="route-ctx"]')?.textContent).toBe('context 32,768 tokens');
    expect(rows[1].querySelector('[data-testid="route-group-cell"]')).toBeNull();
    expect([rows[1].querySelector('.badge')?.textContent, rows[1].querySelector('td .muted.mono')?.textContent]).toEqual(['p1', 'x']);
    expect(rows[1].querySelector('[data-testid="route-ctx"]')).toBeNull();
  });

  it('shows the group, its policy and the fallback chain in the tester', async () => {
    routeList = [group];
    resolution = {
      model: 'fast', route: group, backend: 'p1', backend_model: 'fast', fallbacks: ['p2', 'local'], policy: 'weighted',
      group: [{ backend: 'p1', model: 'fast', weight: 2 }, { backend: 'p2', model: 'big', weight: 1 }],
      chain: [{ backend: 'p1', model: 'fast', weight: 2 }, { backend: 'p2', model: 'big', weight: 1 }, { backend: 'local', model: 'fast' }],
    };
    const { findByTestId, getByTestId } = render(Routes);
    await fireEvent.input(getByTestId('route-tester-input'), { target: { value: 'fast' } });
    const g = await findByTestId('route-tester-group', {}, { timeout: 2000 });
    expect(g.getAttribute('aria-label')).toBe('Group of 2, weighted');
    expect(getByTestId('route-tester-policy').textContent).toBe('Weighted');
    const steps = (el: Element) => [...el.querySelectorAll('[data-testid="route-tester-step"]')].map((s) => s.textContent!.replace(/\s+/g, ' ').trim());
    expect(steps(g)).toEqual(['p1 ×2 fast', 'p2 ×1 big']);
    expect(steps(getByTestId('route-tester-chain'))).toEqual(['p1 ×2 fast', 'p2 ×1 big', 'local fast']);
  });
});
