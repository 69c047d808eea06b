import { describe, expect, it } from 'vitest';
import type { Cooldown } from './api';
import { cooldownPath, cooldownSubject, endLabel, endTime, scopeLabel, stateBadge, timeLeft } from './cooldowns';

const cd = (o: Partial<Cooldown>): Cooldown => ({
  provider: 'openai', backend: 'openai', scope: 'provider', state: 'cooldown', consecutive_failures: 3, ...o,
});

describe('timeLeft', () => {
  const now = Date.parse('2026-03-01T12:00:00Z');
  const at = (s: number) => new Date(now + s * 1000).toISOString();
  it.each([
    [25, 'in 25 s'],
    [0.2, 'in 1 s'], // rounded up: never "in 0 s" while it has not ended
    [59, 'in 59 s'],
    [60, 'in 1 min 0 s'],
    [598, 'in 9 min 58 s'],
    [3600, 'in 1 h 0 min'],
    [2 * 3600 + 5 * 60 + 30, 'in 2 h 5 min'],
    [26 * 3600, 'in 1 d 2 h'],
    [0, 'ending…'],
    [-5, 'ending…'],
  ])('%s s ahead: %s', (s, want) => {
    expect(timeLeft(at(s), now)).toBe(want);
  });
  it('is empty without a time, or with one that does not parse', () => {
    expect(timeLeft(undefined, now)).toBe('');
    expect(timeLeft('soon', now)).toBe('');
  });
});

describe('endTime', () => {
  it('shows the time of day today, and the date too on another day', () => {
    const now = new Date(2026, 2, 1, 12, 0, 0).getTime(); // local time
    const today = new Date(2026, 2, 1, 12, 10, 5);
    const tomorrow = new Date(2026, 2, 2, 0, 5, 0);
    expect(endTime(today.toISOString(), now)).toBe(today.toLocaleTimeString(undefined, { hour12: false }));
    const t = endTime(tomorrow.toISOString(), now);
    expect(t.endsWith(tomorrow.toLocaleTimeString(undefined, { hour12: false }))).toBe(true);
    expect(t.length).toBeGreaterThan(tomorrow.toLocaleTimeString(undefined, { hour12: false }).length);
  });
  it('gives back what does not parse', () => {
    expect(endTime('later', 0)).toBe('later');
  });
});

describe('cooldown labels', () => {
  it('names the scope', () => {
    expect(scopeLabel(cd({}))).toBe('whole provider');
    expect(scopeLabel(cd({ scope: 'model', model: 'gpt-4o' }))).toBe('model');
    expect(cooldownSubject(cd({}))).toBe('all of openai');
    expect(cooldownSubject(cd({ scope: 'model', model: 'gpt-4o' }))).toBe('model gpt-4o at openai');
  });
  it('says what each state means', () => {
    expect(stateBadge(cd({}))).toMatchObject({ text: 'cooling down', kind: 'err' });
    expect(stateBadge(cd({ state: 'probing' }))).toMatchObject({ text: 'probing', kind: 'accent' });
    expect(stateBadge(cd({ state: 'failing', consecutive_failures: 1 }))).toEqual({ text: 'failing', kind: 'warn', title: '1 failed request in a row; not cooling down yet' });
    expect(endLabel(cd({}))).toBe('End now');
    expect(endLabel(cd({ state: 'probing' }))).toBe('End now');
    expect(endLabel(cd({ state: 'failing' }))).toBe('Reset');
  });
});

describe('cooldownPath', () => {
  it('ends a provider, or one model at it', () => {
    expect(cooldownPath({ provider: 'openai' })).toBe('/api/cooldowns/openai');
    expect(cooldownPath({ provider: 'openai', model: 'gpt-4o' })).toBe('/api/cooldowns/openai/gpt-4o');
  });
  it('encodes each segment of a model with slashes', () => {
    expect(cooldownPath({ provider: 'or.x', model: 'meta-llama/llama 3%?#' })).toBe('/api/cooldowns/or.x/meta-llama/llama%203%25%3F%23');
  });
});
