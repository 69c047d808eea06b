import { describe, expect, it } from 'vitest';
import type { SettingsView } from './api';
import { fromDraft, placeholder, showValue, toDraft, warningsFor } from './settings';

const view = {
  memory_budget_mb: 0,
  max_retries: 3,
  cooldown_failures: 0,
  responses_retention_days: 0,
  defaults: { memory_budget_mb: 8192, max_retries: 2, cooldown_failures: 3, responses_retention_days: 30 },
  warnings: [{ field: 'memory_budget_mb', message: 'below what is pinned' }],
} as unknown as SettingsView;

describe('settings drafts', () => {
  it('shows a setting at its default as empty, and a 0 that means something as 0', () => {
    const keys = ['memory_budget_mb', 'max_retries', 'cooldown_failures', 'responses_retention_days'] as const;
    expect(toDraft(view, keys)).toEqual({ memory_budget_mb: '', max_retries: '3', cooldown_failures: '', responses_retention_days: '0' });
  });
  it('sends empty as 0 (the default) and the rest as typed', () => {
    expect(fromDraft({ memory_budget_mb: '', max_retries: ' -1 ', cooldown_failures: 'x' }, ['memory_budget_mb', 'max_retries', 'cooldown_failures'])).toEqual({
      memory_budget_mb: 0,
      max_retries: -1,
      cooldown_failures: NaN, // the server names the field
    });
  });
  it('puts the real default in the placeholder, MiB settings in MiB or GiB', () => {
    expect(placeholder(view, 'memory_budget_mb')).toBe('8 GiB (default)');
    expect(placeholder(view, 'max_retries')).toBe('2 (default)');
    expect(placeholder(null, 'max_retries')).toBe('default');
    expect(showValue('translation_budget_mb', 32)).toBe('32 MiB');
  });
  it('picks the warnings of one field', () => {
    expect(warningsFor(view, 'memory_budget_mb')).toEqual(['below what is pinned']);
    expect(warningsFor(view, 'max_retries')).toEqual([]);
    expect(warningsFor(null, 'memory_budget_mb')).toEqual([]);
  });
});
