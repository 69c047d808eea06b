import { describe, expect, it } from 'vitest';
import type { RequestEntry } from './api';
import { backendChoices, isError, matchesText, mergeRows, noFilters, outcomeTone, outcomeWord, requestsPath, statusTone, statusWord, tokensSource } from './requests';

const entry = (id: number, over: Partial<RequestEntry> = {}): RequestEntry => ({
  id,
  time: '2026-12-07T00:00:00Z',
  method: 'POST',
  path: '/v1/chat/completions',
  protocol: 'openai',
  model: 'm' + id,
  route: '',
  backend: 'fake',
  fallback_from: [],
  status: 200,
  stream: true,
  input_tokens: 1,
  output_tokens: 2,
  ttfb_ms: 10,
  duration_ms: 20,
  ...over,
});

describe('requestsPath', () => {
  it('asks for the latest rows first, then what is newer, with the filters', () => {
    expect(requestsPath(noFilters, 0)).toBe('/api/requests?limit=200');
    expect(requestsPath(noFilters, 42)).toBe('/api/requests?limit=1000&after=42');
    expect(requestsPath({ errors: true, failovers: true, backend: 'my provider' }, 0, 50)).toBe(
      '/api/requests?limit=50&errors=1&failovers=1&backend=my+provider',
    );
  });
});

describe('mergeRows', () => {
  it('keeps newest first, each id once, at most max', () => {
    const rows = [entry(3), entry(2), entry(1)];
    const got = mergeRows(rows, [entry(5), entry(4), entry(3, { status: 499 })], 4);
    expect(got.map((r) => r.id)).toEqual([5, 4, 3, 2]);
    expect(got[2].status).toBe(499); // the newer copy of a row wins
  });
});

describe('status', () => {
  it('reads 499 as a cancellation, not an error', () => {
    expect(statusTone(499)).toBe('neutral');
    expect(statusWord(499)).toBe('cancelled');
    expect(isError({ status: 499, error: '' })).toBe(false);
    expect(statusTone(200)).toBe('ok');
    expect(statusTone(429)).toBe('warn');
    expect(statusTone(502)).toBe('err');
    expect(isError({ status: 502 })).toBe(true);
    expect(isError({ status: 200, error: 'upstream broke off the stream' })).toBe(true);
  });
  it('says where the output count comes from', () => {
    expect(tokensSource('usage')).toMatch(/reported/);
    expect(tokensSource('estimated')).toMatch(/estimated/);
    expect(tokensSource('counted')).toMatch(/counted/);
    expect(tokensSource('')).toBe('');
    expect(tokensSource(undefined)).toBe('');
  });
});

describe('chain steps', () => {
  it('names outcomes and retries', () => {
    const step = { backend: 'dead', model: 'm', status: 502, duration_ms: 3 };
    expect(outcomeWord({ ...step, outcome: 'failed', retry: 2 })).toBe('failed (retry 2)');
    expect(outcomeWord({ ...step, outcome: 'skipped' })).toBe('skipped');
    expect(outcomeWord({ ...step, outcome: 'cancelled' })).toBe('cancelled by the client');
    expect(outcomeTone({ ...step, outcome: 'failed' })).toBe('err');
    expect(outcomeTone({ ...step, outcome: 'answered', status: 200 })).toBe('ok');
    expect(outcomeTone({ ...step, outcome: 'answered', status: 400 })).toBe('warn');
  });
});

describe('backendChoices', () => {
  it('lists every backend seen, failed-over ones included, sorted, without "none"', () => {
    const rows = [entry(1, { backend: 'backup', fallback_from: ['dead'] }), entry(2, { backend: 'none' })];
    expect(backendChoices([{ backend: 'fake' } as never], rows, 'gone')).toEqual(['backup', 'dead', 'fake', 'gone']);
  });
});

describe('matchesText', () => {
  it('finds a row by model, backend, status or its word', () => {
    const r = entry(1, { model: 'gpt-4o', status: 499, fallback_from: ['dead'] });
    expect(matchesText(r, '')).toBe(true);
    expect(matchesText(r, 'GPT')).toBe(true);
    expect(matchesText(r, 'cancel')).toBe(true);
    expect(matchesText(r, 'dead')).toBe(true);
    expect(matchesText(r, 'claude')).toBe(false);
  });
});
