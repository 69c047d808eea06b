import { describe, expect, it } from 'vitest';
import { applyDownload, eta, fraction, modelPath, ordered, progressText, searchPath, suggestedName, type Download } from './downloads';

const base: Download = { id: 'a', repo: 'o/r', revision: 'main', commit: '', state: 'downloading', done_bytes: 0, total_bytes: 100, rate_bps: 0, eta_seconds: 0, error: '', model_id: '', started_at: '2026-12-07T01:00:00Z', updated_at: '2026-12-07T01:00:00Z' };

describe('downloads', () => {
  it('builds search and model paths', () => {
    expect(searchPath({ text: ' qwen ', author: 'mlx-community', sort: 'recent' })).toBe('/api/hub/search?q=qwen&author=mlx-community&sort=recent&limit=20');
    expect(searchPath({ text: '', author: '', sort: 'likes', limit: 5 })).toBe('/api/hub/search?author=&sort=likes&limit=5');
    expect(modelPath('mlx-community/Qwen 2')).toBe('/api/hub/models/mlx-community/Qwen%202');
    expect(modelPath('o/r', 'v1')).toBe('/api/hub/models/o/r?revision=v1');
  });

  it('folds events by id, newest wins', () => {
    let l = applyDownload([], base);
    l = applyDownload(l, { ...base, done_bytes: 50, updated_at: '2026-12-07T01:00:02Z' });
    expect(l).toHaveLength(1);
    expect(l[0].done_bytes).toBe(50);
    l = applyDownload(l, { ...base, done_bytes: 10, updated_at: '2026-12-07T01:00:01Z' });
    expect(l[0].done_bytes).toBe(50);
    l = applyDownload(l, { ...base, id: 'b', state: 'done', started_at: '2026-12-07T02:00:00Z' });
    expect(ordered(l).map((d) => d.id)).toEqual(['a', 'b']);
  });

  it('states progress', () => {
    expect(fraction({ ...base, done_bytes: 33 })).toBe(33);
    expect(fraction({ ...base, total_bytes: 0 })).toBe(0);
    expect(fraction({ ...base, state: 'done' })).toBe(100);
    expect(eta({ state: 'downloading', eta_seconds: 65 })).toBe('about 1m 5s left');
    expect(eta({ state: 'verifying', eta_seconds: 65 })).toBe('');
    expect(progressText({ ...base, done_bytes: 2048, total_bytes: 4096, rate_bps: 1024 })).toBe('2.0 KiB of 4.0 KiB · 1.0 KiB/s');
    expect(suggestedName('mlx-community/Qwen2.5-0.5B-Instruct-4bit')).toBe('qwen2.5-0.5b-instruct-4bit');
  });
});

import { cancelText, needsToken } from './downloads';
import { ApiError } from './client';

describe('needsToken', () => {
  it('reads the error kind, the status or the words', () => {
    expect(needsToken({ ...base, state: 'failed', error_kind: 'gated', error: 'x' })).toBe(true);
    expect(needsToken({ ...base, state: 'failed', error_kind: 'disk_full', error: 'no token here' })).toBe(false);
    expect(needsToken(new ApiError(403, 'HTTP 403'))).toBe(true);
    expect(needsToken(new ApiError(400, 'bad', 'invalid_request_error', null, 'gated'))).toBe(true);
    expect(needsToken(new ApiError(502, 'The Hub could not be reached'))).toBe(false);
  });
});

describe('cancelText', () => {
  it('says whether the partial files were kept', () => {
    expect(cancelText(base, 'kept: downloading it again resumes where it stopped')).toContain('are kept');
    expect(cancelText(base, 'removed')).toBe('Cancelled o/r; the partial files were removed.');
  });
});
