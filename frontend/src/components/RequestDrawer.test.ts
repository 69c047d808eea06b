// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import RequestDrawer from './RequestDrawer.svelte';
import type { RequestEntry } from '../lib/api';

afterEach(cleanup);

const failedOver: RequestEntry = {
  id: 7,
  time: '2026-12-07T00:00:00Z',
  method: 'POST',
  path: '/v1/chat/completions',
  protocol: 'openai',
  model: 'via-dead',
  route: 'via-*',
  backend: 'fake',
  fallback_from: ['dead'],
  status: 200,
  stream: true,
  input_tokens: 7,
  output_tokens: 12,
  output_tokens_source: 'usage',
  ttfb_ms: 140,
  duration_ms: 900,
  attempts: [
    { backend: 'dead', model: 'gpt-x', status: 502, outcome: 'failed', reason: 'Nothing is listening on 127.0.0.1:9 — is the server running, and on this port?', duration_ms: 2 },
    { backend: 'dead', model: 'gpt-x', status: 502, outcome: 'failed', reason: 'Nothing is listening on 127.0.0.1:9 — is the server running, and on this port?', retry: 1, duration_ms: 1 },
    { backend: 'fake', model: 'fake-large', status: 200, outcome: 'answered', duration_ms: 890 },
  ],
};

describe('RequestDrawer', () => {
  it('shows the route, each step of the chain with its status and reason, timings and tokens', () => {
    const { getByTestId, getAllByTestId, getByText } = render(RequestDrawer, { entry: failedOver, onclose: () => {} });
    expect(getByTestId('drawer-route').textContent).toContain('via-*');
    const steps = getAllByTestId('chain-step');
    expect(steps.map((s) => s.dataset.backend)).toEqual(['dead', 'dead', 'fake']);
    expect(steps[0].textContent).toContain('502');
    expect(steps[0].textContent).toContain('Nothing is listening on 127.0.0.1:9');
    expect(steps[1].textContent).toContain('failed (retry 1)');
    expect(steps[2].textContent).toContain('answered');
    expect(getByTestId('drawer-output').textContent).toContain('reported by the backend');
    expect(getByText('140 ms')).toBeTruthy();
    expect(getByText('900 ms')).toBeTruthy();
  });

  it('reads a stopped stream as cancelled, with its estimated tokens', () => {
    const entry: RequestEntry = {
      ...failedOver,
      status: 499,
      output_tokens: 9,
      output_tokens_source: 'estimated',
      attempts: [{ backend: 'fake', model: 'fake-large', status: 499, outcome: 'cancelled', reason: 'the client stopped the answer after it began', duration_ms: 500 }],
    };
    const { getByTestId, getAllByTestId } = render(RequestDrawer, { entry, onclose: () => {} });
    expect(getByTestId('drawer-status').textContent).toContain('499');
    expect(getByTestId('drawer-status').textContent).toContain('cancelled');
    expect(getByTestId('drawer-output').textContent).toMatch(/9\s*\(estimated/);
    expect(getAllByTestId('chain-step')[0].dataset.outcome).toBe('cancelled');
  });

  it('shows the cached part of the input next to it, only when there is one', () => {
    const cached = render(RequestDrawer, { entry: { ...failedOver, input_tokens: 6211, cached_tokens: 6000 }, onclose: () => {} });
    expect(cached.getByTestId('drawer-input').textContent).toMatch(/6.211\s*\(6.000 cached\)/);
    cached.unmount();
    for (const entry of [{ ...failedOver, cached_tokens: 0 }, failedOver]) {
      const { getByTestId, unmount } = render(RequestDrawer, { entry, onclose: () => {} });
      expect(getByTestId('drawer-input').textContent?.trim()).toBe('7');
      unmount();
    }
  });

  it('says when no backend was tried, and closes on Escape and on its button', async () => {
    const onclose = vi.fn();
    const { getByTestId } = render(RequestDrawer, { entry: { ...failedOver, attempts: [] }, onclose });
    expect(getByTestId('drawer-no-chain')).toBeTruthy();
    await fireEvent.keyDown(getByTestId('request-drawer'), { key: 'Escape' });
    await fireEvent.click(getByTestId('request-drawer-close'));
    expect(onclose).toHaveBeenCalledTimes(2);
  });

  it('shows an error instead of the entry', () => {
    const { getByRole } = render(RequestDrawer, { entry: null, error: 'request 9 is not in the request log', onclose: () => {} });
    expect(getByRole('alert').textContent).toContain('not in the request log');
  });
});
