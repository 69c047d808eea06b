// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, within } from '@testing-library/svelte';
import Discover, { type DiscoverApi } from './Discover.svelte';
import { ApiError } from '../lib/client';
import type { LiveEvent } from '../lib/live';
import type { Download, HubModel } from '../lib/downloads';

afterEach(cleanup);

const GiB = 1024 ** 3;

const facts: HubModel = {
  repo: 'mlx-community/Tiny-4bit',
  revision: 'main',
  commit: 'abc123',
  files: [
    { path: 'config.json', size: 1200 },
    { path: 'model.safetensors', size: 2 * GiB },
  ],
  total_bytes: 2 * GiB + 1200,
  architecture: 'qwen2',
  quantization: '4-bit',
  params: '0.5B',
  context_length: 32768,
  supported: true,
  reason: '',
  fits: true,
  needed_bytes: 3 * GiB,
  kv_allowance_bytes: GiB,
  budget_bytes: 8 * GiB,
  free_disk_bytes: 100 * GiB,
  downloaded: false,
  gated: false,
};

function dl(over: Partial<Download>): Download {
  return {
    id: 'd1',
    repo: facts.repo,
    revision: 'main',
    commit: 'abc123',
    state: 'downloading',
    done_bytes: 0,
    total_bytes: facts.total_bytes,
    rate_bps: 0,
    eta_seconds: 0,
    error: '',
    model_id: '',
    started_at: '2026-12-07T01:00:00Z',
    updated_at: '2026-12-07T01:00:00Z',
    ...over,
  };
}

/** A fake server: routes by method and path; events are pushed with emit(). */
function fake(routes: Record<string, (body?: unknown) => unknown>) {
  const listeners: ((ev: LiveEvent) => void)[] = [];
  const calls: { method: string; path: string; body?: unknown }[] = [];
  let seq = 0;
  const api: DiscoverApi = {
    call: (async (method: string, path: string, body?: unknown) => {
      calls.push({ method, path, body });
      const key = Object.keys(routes).find((k) => {
        const [m, p] = k.split(' ');
        return m === method && (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : path === p);
      });
      if (!key) throw new ApiError(404, 'not found');
      return routes[key](body);
    }) as DiscoverApi['call'],
    onEvents: (_topics, f) => {
      listeners.push(f);
      return () => listeners.splice(listeners.indexOf(f), 1);
    },
    onTopics: () => () => {},
  };
  const emit = (d: Download) => listeners.forEach((f) => f({ seq: ++seq, topic: 'downloads', time: d.updated_at, data: d }));
  return { api, calls, emit };
}

const search = () => ({
  models: [
    { repo: 'mlx-community/Tiny-4bit', downloads: 12345, likes: 7, updated: '2026-12-01T00:00:00Z', gated: false, params: '0.5B', quantization: '4-bit' },
    { repo: 'mlx-community/Big-8bit', downloads: 10, likes: 1, updated: '2026-11-01T00:00:00Z', gated: true, params: '70B', quantization: '8-bit' },
  ],
});

describe('Discover search', () => {
  it('searches mlx-community MLX models by downloads at first, and shows params and quantization', async () => {
    const { api, calls } = fake({ 'GET /api/hub/search*': search, 'GET /api/downloads': () => [] });
    const { findAllByTestId, getByTestId } = render(Discover, { api });
    const rows = await findAllByTestId('discover-result');
    expect(rows.map((r) => r.dataset.repo)).toEqual(['mlx-community/Tiny-4bit', 'mlx-community/Big-8bit']);
    expect(rows[0].textContent).toContain('0.5B');
    expect(rows[0].textContent).toContain('4-bit');
    expect(rows[0].textContent).toContain((12345).toLocaleString() + ' downloads');
    expect(rows[1].textContent).toContain('gated');
    const first = new URL(calls.find((c) => c.path.startsWith('/api/hub/search'))!.path, 'http://x');
    expect(first.searchParams.get('author')).toBe('mlx-community');
    expect(first.searchParams.get('sort')).toBe('downloads');
    expect(getByTestId('discover-search').hasAttribute('data-search')).toBe(true);
  });

  it('sends free text and the chosen sort', async () => {
    const { api, calls } = fake({ 'GET /api/hub/search*': () => ({ models: [] }), 'GET /api/downloads': () => [] });
    const { getByTestId, findByTestId } = render(Discover, { api });
    await findByTestId('discover-none');
    await fireEvent.input(getByTestId('discover-search'), { target: { value: 'qwen coder' } });
    await fireEvent.change(getByTestId('discover-sort'), { target: { value: 'likes' } });
    await vi.waitFor(() => {
      const last = new URL(calls.filter((c) => c.path.startsWith('/api/hub/search')).at(-1)!.path, 'http://x');
      expect(last.searchParams.get('q')).toBe('qwen coder');
      expect(last.searchParams.get('sort')).toBe('likes');
    });
  });

  it('sends an empty author to search every author', async () => {
    const { api, calls } = fake({ 'GET /api/hub/search*': () => ({ models: [] }), 'GET /api/downloads': () => [] });
    const { getByTestId, findByTestId } = render(Discover, { api });
    await findByTestId('discover-none');
    await fireEvent.input(getByTestId('discover-author'), { target: { value: '' } });
    await fireEvent.click(getByTestId('discover-go'));
    await vi.waitFor(() => {
      const last = new URL(calls.filter((c) => c.path.startsWith('/api/hub/search')).at(-1)!.path, 'http://x');
      expect(last.searchParams.has('author')).toBe(true);
      expect(last.searchParams.get('author')).toBe('');
    });
  });

  it('says in plain words when the Hub cannot be reached', async () => {
    const { api } = fake({
      'GET /api/hub/search*': () => {
        throw new ApiError(502, 'HTTP 502');
      },
      'GET /api/downloads': () => [],
    });
    const { findByTestId } = render(Discover, { api });
    expect((await findByTestId('discover-search-error')).textContent).toContain('The Hub could not be reached');
  });
});

async function openFacts(f: HubModel, extra: Record<string, (body?: unknown) => unknown> = {}) {
  const srv = fake({ 'GET /api/hub/search*': search, 'GET /api/downloads': () => [], 'GET /api/hub/models/*': () => f, ...extra });
  const r = render(Discover, { api: srv.api, onroute: vi.fn(), onfinished: vi.fn() });
  const rows = await r.findAllByTestId('discover-result');
  await fireEvent.click(rows[0]);
  await r.findByTestId('facts-arch');
  return { ...srv, ...r };
}

describe('the facts panel', () => {
  it('shows files, size, architecture, supported and fits with the KV allowance, and disk', async () => {
    const { getByTestId, calls } = await openFacts(facts);
    expect(calls.some((c) => c.path === '/api/hub/models/mlx-community/Tiny-4bit')).toBe(true);
    expect(getByTestId('facts-arch').textContent).toBe('qwen2');
    expect(getByTestId('facts-size').textContent).toContain('2.0 GiB in 2 files');
    expect(getByTestId('facts-supported').dataset.supported).toBe('true');
    expect(getByTestId('facts-supported').textContent).toContain('supported');
    const fits = getByTestId('facts-fits');
    expect(fits.dataset.fits).toBe('true');
    expect(fits.textContent).toContain('needs 3.0 GiB of the 8.0 GiB budget');
    expect(fits.textContent).toContain('1.0 GiB allowed for the KV cache');
    expect(getByTestId('facts-disk').textContent).toContain('100 GiB free');
    expect(within(getByTestId('facts-files')).getByText('model.safetensors')).toBeTruthy();
  });

  it('says why a model is not supported and that it does not fit', async () => {
    const { getByTestId } = await openFacts({ ...facts, supported: false, reason: 'architecture "mamba" is not supported by the engine', fits: false, needed_bytes: 12 * GiB });
    expect(getByTestId('facts-supported').dataset.supported).toBe('false');
    expect(getByTestId('facts-supported').textContent).toContain('architecture "mamba" is not supported');
    const fits = getByTestId('facts-fits');
    expect(fits.dataset.fits).toBe('false');
    expect(fits.textContent).toContain('does not fit');
    expect(fits.textContent).toContain('needs 12.0 GiB of the 8.0 GiB budget');
  });

  it('says a gated repo needs a Hub token and where to set it', async () => {
    const { getByTestId } = await openFacts({ ...facts, gated: true }, { 'GET /api/hub/token': () => ({ has_hub_token: false }) });
    const g = getByTestId('facts-gated');
    expect(g.textContent).toContain('token');
    expect(getByTestId('token-help').textContent).toContain('Set a Hub token');
  });

  it('shows a refused repo as needing a token', async () => {
    const srv = fake({
      'GET /api/hub/search*': search,
      'GET /api/downloads': () => [],
      'GET /api/hub/models/*': () => {
        throw new ApiError(403, 'HTTP 403');
      },
    });
    const r = render(Discover, { api: srv.api });
    await fireEvent.click((await r.findAllByTestId('discover-result'))[0]);
    expect((await r.findByTestId('facts-error')).textContent).toContain('needs a Hugging Face token');
    expect(r.getByTestId('token-help')).toBeTruthy();
  });
});

describe('the Hub token', () => {
  it('is set from the tab, never kept in the page, and a gated repo points to it', async () => {
    let has = false;
    const srv = fake({
      'GET /api/hub/search*': search,
      'GET /api/downloads': () => [],
      'GET /api/hub/models/*': () => ({ ...facts, gated: true }),
      'GET /api/hub/token': () => ({ has_hub_token: has }),
      'PUT /api/hub/token': (body) => {
        has = !!(body as { token: string }).token;
        return { has_hub_token: has };
      },
    });
    const r = render(Discover, { api: srv.api });
    await vi.waitFor(() => expect(r.getByTestId('hub-token-state').dataset.set).toBe('false'));
    await fireEvent.click((await r.findAllByTestId('discover-result'))[0]);
    await r.findByTestId('facts-gated');
    expect(r.getByTestId('token-help').textContent).toContain('Set a Hub token');
    await fireEvent.click(r.getByRole('button', { name: 'Set a Hub token' }));
    const input = r.getByTestId('hub-token-input') as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    expect(input.type).toBe('password');
    await fireEvent.input(input, { target: { value: 'hf_secret' } });
    await fireEvent.click(r.getByTestId('hub-token-save'));
    await vi.waitFor(() => expect(r.getByTestId('hub-token-state').dataset.set).toBe('true'));
    expect(srv.calls.find((c) => c.method === 'PUT')?.body).toEqual({ token: 'hf_secret' });
    expect(input.value).toBe('');
    expect(document.body.textContent).not.toContain('hf_secret');
    await fireEvent.click(r.getByTestId('hub-token-remove'));
    await vi.waitFor(() => expect(r.getByTestId('hub-token-state').dataset.set).toBe('false'));
    expect(srv.calls.filter((c) => c.method === 'PUT').at(-1)?.body).toEqual({ token: '' });
  });
});

describe('downloading', () => {
  it('starts a download and follows its progress from the events to done', async () => {
    const onfinished = vi.fn();
    const onroute = vi.fn();
    const srv = fake({
      'GET /api/hub/search*': search,
      'GET /api/downloads': () => [],
      'GET /api/hub/models/*': () => facts,
      'POST /api/downloads': () => dl({ state: 'queued' }),
    });
    const r = render(Discover, { api: srv.api, onfinished, onroute });
    await fireEvent.click((await r.findAllByTestId('discover-result'))[0]);
    await fireEvent.click(await r.findByTestId('discover-download'));
    expect(srv.calls.find((c) => c.method === 'POST')?.body).toEqual({ repo: facts.repo, revision: 'main' });
    await r.findAllByTestId('download-progress');

    srv.emit(dl({ state: 'downloading', done_bytes: GiB, rate_bps: 10 * 1024 * 1024, eta_seconds: 125, updated_at: '2026-12-07T01:00:05Z' }));
    await vi.waitFor(() => {
      const bar = r.getAllByRole('progressbar')[0];
      expect(bar.getAttribute('aria-valuenow')).toBe('49');
    });
    const text = r.getAllByTestId('download-progress-text')[0].textContent!;
    expect(text).toContain('1.0 GiB of 2.0 GiB');
    expect(text).toContain('10.0 MiB/s');
    expect(text).toContain('about 2m 5s left');

    // a late progress event cannot undo a newer one
    srv.emit(dl({ state: 'done', done_bytes: facts.total_bytes, model_id: 'mlx-community/Tiny-4bit', updated_at: '2026-12-07T01:00:09Z' }));
    srv.emit(dl({ state: 'downloading', done_bytes: 5, updated_at: '2026-12-07T01:00:06Z' }));
    await vi.waitFor(() => expect(r.getByTestId('download-row').dataset.state).toBe('done'));
    expect(onfinished).toHaveBeenCalledTimes(1);
    expect(onfinished.mock.calls[0][0].model_id).toBe('mlx-community/Tiny-4bit');
    expect(r.getByTestId('download-route').textContent).toBe('Route a name to it (mlx-community/Tiny-4bit)'); // the accessible name holds the visible text
    expect(r.getByRole('button', { name: /^Show details of mlx-community\/Tiny-4bit/ })).toBeTruthy();
    await fireEvent.click(r.getByTestId('download-route'));
    expect(onroute).toHaveBeenCalledWith('mlx-community/Tiny-4bit');
    expect(r.getByTestId('facts-route')).toBeTruthy();
  });

  it('cancels, saying that the partial files are kept', async () => {
    const srv = fake({
      'GET /api/hub/search*': search,
      'GET /api/downloads': () => [dl({ done_bytes: GiB / 2 })],
      'GET /api/hub/models/*': () => facts,
      // as the server answers: the download as it is now, its state turning cancelled by an event
      'DELETE /api/downloads/*': () => ({ ...dl({ done_bytes: GiB / 2, updated_at: '2026-12-07T01:00:10Z' }), partial_files: 'kept: downloading it again resumes where it stopped' }),
    });
    const r = render(Discover, { api: srv.api });
    const cancel = await r.findByTestId('download-cancel');
    expect(cancel.getAttribute('aria-label')).toBe('Cancel the download of mlx-community/Tiny-4bit (partial files are kept)');
    await fireEvent.click(cancel);
    expect(srv.calls.find((c) => c.method === 'DELETE')?.path).toBe('/api/downloads/d1');
    expect((await r.findByTestId('discover-notice')).textContent).toContain('the partial files are kept');
    srv.emit(dl({ state: 'cancelled', done_bytes: GiB / 2, updated_at: '2026-12-07T01:00:11Z' }));
    await vi.waitFor(() => expect(r.getByTestId('download-row').dataset.state).toBe('cancelled'));
    expect(r.queryByTestId('download-cancel')).toBeNull();
  });

  it('shows a failed download in plain words, and a refused start', async () => {
    const srv = fake({
      'GET /api/hub/search*': search,
      'GET /api/downloads': () => [dl({ state: 'failed', error: 'Not enough disk space: 2.0 GiB needed, 1.0 GiB free. Free some space and download again.' })],
      'GET /api/hub/models/*': () => facts,
      'POST /api/downloads': () => {
        throw new ApiError(409, 'mlx-community/Tiny-4bit is already downloading');
      },
    });
    const r = render(Discover, { api: srv.api });
    expect((await r.findByTestId('download-error')).textContent).toContain('Not enough disk space');
    await fireEvent.click((await r.findAllByTestId('discover-result'))[0]);
    expect((await r.findByTestId('facts-download-error')).textContent).toContain('Free some space');
    const again = r.getByTestId('discover-download');
    expect(again.textContent).toBe('Download again mlx-community/Tiny-4bit');
    await fireEvent.click(again);
    expect((await r.findByTestId('discover-start-error')).textContent).toBe('mlx-community/Tiny-4bit is already downloading');
  });

  it('leaves the downloads list out when the server has no download manager', async () => {
    const srv = fake({ 'GET /api/hub/search*': search });
    const r = render(Discover, { api: srv.api });
    await r.findAllByTestId('discover-result');
    expect(r.queryByText('Downloads')).toBeNull();
  });
});
