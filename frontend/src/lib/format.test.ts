import { describe, expect, it } from 'vitest';
import { bytes, mib, percent } from './format';

describe('sizes', () => {
  it('spells binary units as such', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(25 * 1024 * 1024)).toBe('25.0 MiB');
    expect(bytes(280 * 1024 * 1024)).toBe('280 MiB');
    expect(bytes(8 * 1024 ** 3)).toBe('8.0 GiB');
    expect(bytes(0)).toBe('—');
  });
  it('shows a number of MiB in MiB or GiB', () => {
    expect(mib(1)).toBe('1 MiB');
    expect(mib(512)).toBe('512 MiB');
    expect(mib(8192)).toBe('8 GiB');
    expect(mib(1536)).toBe('1.5 GiB');
    expect(mib(-1)).toBe('—');
  });
  it('caps a bar at 100%', () => {
    expect(percent(25, 1)).toBe(100);
    expect(percent(1, 4)).toBe(25);
    expect(percent(1, 0)).toBe(0);
  });
});
