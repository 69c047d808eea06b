// How the Status screen shows cooldowns: pure helpers, tested in
// cooldowns.test.ts.

import type { Cooldown } from './api';

/** The admin path that ends c: /api/cooldowns/{provider}[/{model}], each segment encoded (a model may contain "/"). */
export function cooldownPath(c: Pick<Cooldown, 'provider' | 'model'>): string {
  let p = '/api/cooldowns/' + encodeURIComponent(c.provider);
  if (c.model) p += '/' + c.model.split('/').map(encodeURIComponent).join('/');
  return p;
}

/** What cools down, in words: "model gpt-4o at openai" or "all of openai". */
export function cooldownSubject(c: Pick<Cooldown, 'provider' | 'model' | 'scope'>): string {
  return c.scope === 'model' && c.model ? `model ${c.model} at ${c.provider}` : `all of ${c.provider}`;
}

/** The scope badge's text. */
export function scopeLabel(c: Pick<Cooldown, 'scope'>): string {
  return c.scope === 'model' ? 'model' : 'whole provider';
}

/** The state badge: its text, its colour and what it means. */
export function stateBadge(c: Pick<Cooldown, 'state' | 'consecutive_failures'>): { text: string; kind: 'err' | 'warn' | 'accent'; title: string } {
  const n = c.consecutive_failures;
  const inARow = `${n} failed request${n === 1 ? '' : 's'} in a row`;
  switch (c.state) {
    case 'cooldown':
      return { text: 'cooling down', kind: 'err', title: `skipped while the chain has another candidate (${inARow})` };
    case 'probing':
      return { text: 'probing', kind: 'accent', title: 'the next request tries it: success ends the cooldown, failure starts another' };
    default:
      return { text: 'failing', kind: 'warn', title: `${inARow}; not cooling down yet` };
  }
}

/** The label of the row's action: a cooldown ends, a count of failures is reset. */
export function endLabel(c: Pick<Cooldown, 'state'>): string {
  return c.state === 'failing' ? 'Reset' : 'End now';
}

/**
 * How long until `until` (RFC 3339), from `now` (ms since the epoch):
 * "in 25 s", "in 9 min 58 s", "in 2 h 5 min"; "ending…" once it has
 * passed (the next status says what became of it); "" without a time.
 */
export function timeLeft(until: string | undefined, now: number): string {
  if (!until) return '';
  const t = Date.parse(until);
  if (Number.isNaN(t)) return '';
  const s = Math.ceil((t - now) / 1000);
  if (s <= 0) return 'ending…';
  if (s < 60) return `in ${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `in ${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `in ${h} h ${m % 60} min`;
  return `in ${Math.floor(h / 24)} d ${h % 24} h`;
}

/** The end as local time: the time of day, with the date when it is not today. */
export function endTime(until: string, now: number): string {
  const d = new Date(until);
  if (Number.isNaN(d.getTime())) return until;
  const time = d.toLocaleTimeString(undefined, { hour12: false });
  return d.toDateString() === new Date(now).toDateString() ? time : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + time;
}
