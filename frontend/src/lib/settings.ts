// The settings forms' logic: a numeric setting left at 0 means its
// default, which the form shows as the field's placeholder (from the
// server's `defaults`) instead of a bare 0.

import type { NumericSetting, SettingsView } from './api';
import { mib } from './format';

/** A numeric field's text: "" while it is at its default. */
export type Draft = Partial<Record<NumericSetting, string>>;

/**
 * Settings whose 0 is a value of its own rather than "the default"
 * (responses_retention_days: 0 keeps stored responses until deleted).
 */
const zeroIsAValue: ReadonlySet<NumericSetting> = new Set(['responses_retention_days']);

/** The form's text for each key: the stored value, or "" for 0 (the default). */
export function toDraft(s: SettingsView, keys: readonly NumericSetting[]): Draft {
  const d: Draft = {};
  for (const k of keys) d[k] = s[k] === 0 && !zeroIsAValue.has(k) ? '' : String(s[k]);
  return d;
}

/** The PUT body's numbers: "" is 0 (the default); anything else as typed, for the server to judge. */
export function fromDraft(d: Draft, keys: readonly NumericSetting[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) {
    const v = (d[k] ?? '').trim();
    out[k] = v === '' ? 0 : Number(v);
  }
  return out;
}

/** How a default reads: MiB settings in MiB/GiB, the rest as numbers. */
export function showValue(key: NumericSetting, v: number | undefined): string {
  if (v === undefined) return '';
  if (key === 'memory_budget_mb' || key === 'translation_budget_mb') return mib(v);
  return v.toLocaleString();
}

/** The placeholder of a field at its default: "2 (default)". */
export function placeholder(s: SettingsView | null, key: NumericSetting): string {
  const d = s?.defaults?.[key];
  return d === undefined ? 'default' : `${showValue(key, d)} (default)`;
}

/** The warnings the server gave for one field. */
export function warningsFor(s: SettingsView | null, field: string): string[] {
  return (s?.warnings ?? []).filter((w) => w.field === field).map((w) => w.message);
}
