// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import type { RequestEntry } from '../lib/api';

const calls: string[] = [];
const rows: RequestEntry[] = [
  {
    id: 2, time: '2026-12-07T00:00:02Z', method: 'POST', path: '/v1/chat/completions', protocol: 'openai', model: 'stop-me', route: 'stop-me',
    backend: 'fake', fallback_from: [], status: 499, stream: true, input_tokens: 0, output_tokens: 8, output_tokens_source: 'estimated',
    ttfb_ms: 1, duration_ms: 450, attempts: [{ backend: 'fake', model: 'fake-large', status: 499, outcome: 'cancelled', duration_ms: 450 }],
  },
  {
    id: 1, time: '2026-12-07T00:00:01Z', method: 'POST', path: '/v1/chat/completions', protocol: 'openai', model: 'via-dead', route: 'via-dead',
    backend: 'fake', fallback_from: ['dead'], status: 200, stream: false, input_tokens: 7, output_tokens: 11, output_tokens_source: 'usage',
    ttfb_ms: 1, duration_ms: 2,
    attempts: [
      { backend: 'dead', model: 'fake-small', status: 502, outcome: 'failed', reason: 'Nothing is listening on 127.0.0.1:9 — is the server running, and on this port?', duration_ms: 0 },
      { backend: 'fake', model: 'fake-small', status: 200, outcome: 'answered', duration_ms: 1 },
    ],
  },
];

vi.mock('../lib/client', () => ({
  call: vi.fn(async (_method: string, path: string) => {
    calls.push(path);
    if (path === '/api/requests/totals') {
      return {
        time: '',
        hour: [{ backend: 'fake', requests: 2, errors: 0, cancelled: 1, failovers: 1, input_tokens: 7, output_tokens: 19, p50_duration_ms: 2, p50_ttfb_ms: 1 }],
        day: [],
      };
    }
    if (path.startsWith('/api/requests/')) return rows.find((r) => r.id === Number(path.split('/').pop()));
    if (path.includes('failovers=1')) return rows.filter((r) => r.fallback_from?.length);
    if (path.includes('after=')) return [];
    return rows;
  }),
}));

const { default: Requests } = await import('./Requests.svelte');

beforeEach(() => {
  calls.length = 0;
});
afterEach(cleanup);

describe('Requests', () => {
  it('shows a stopped stream as cancelled with its estimated tokens, and the totals per backend', async () => {
    const { findAllByTestId, getAllByTestId, getByTestId } = render(Requests);
    const list = await findAllByTestId('request-row');
    expect(list.map((r) => r.dataset.status)).toEqual(['499', '200']);
    expect(getAllByTestId('request-cancelled')[0].textContent).toBe('cancelled');
    expect(getAllByTestId('request-tokens')[0].textContent).toBe('0 / 8*');
    await waitFor(() => expect(getByTestId('totals-requests').textContent).toBe('2'));
    await fireEvent.click(getByTestId('totals-day'));
    await waitFor(() => expect(getByTestId('requests-totals').textContent).toContain('No requests in the last day'));
  });

  it('asks the server again with a filter, and opens a row in the drawer with its chain', async () => {
    const { findAllByTestId, getByTestId, findByTestId, queryByTestId } = render(Requests);
    await findAllByTestId('request-row');
    await fireEvent.click(getByTestId('requests-failovers'));
    await waitFor(() => expect(calls).toContain('/api/requests?limit=200&failovers=1'));
    await waitFor(() => expect(queryByTestId('request-cancelled')).toBeNull());
    const [row] = await findAllByTestId('request-row');
    expect(row.dataset.model).toBe('via-dead');
    await fireEvent.click(row.querySelector('td:nth-child(2)')!);
    const drawer = await findByTestId('request-drawer');
    await waitFor(() => expect(calls).toContain('/api/requests/1'));
    const steps = drawer.querySelectorAll<HTMLElement>('[data-testid="chain-step"]');
    expect([...steps].map((s) => s.dataset.outcome)).toEqual(['failed', 'answered']);
    await fireEvent.keyDown(drawer, { key: 'Escape' });
    await waitFor(() => expect(queryByTestId('request-drawer')).toBeNull());
  });
});
