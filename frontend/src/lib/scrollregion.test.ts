// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { markScrollable, overflows } from './scrollregion';

function box(scrollWidth: number, clientWidth: number): HTMLElement {
  const el = document.createElement('div');
  Object.defineProperty(el, 'scrollWidth', { value: scrollWidth, configurable: true });
  Object.defineProperty(el, 'clientWidth', { value: clientWidth, configurable: true });
  Object.defineProperty(el, 'scrollHeight', { value: 10, configurable: true });
  Object.defineProperty(el, 'clientHeight', { value: 10, configurable: true });
  return el;
}

describe('overflows', () => {
  it.each([
    [500, 300, true],
    [300, 300, false],
    [301, 300, false], // rounding, not a scrollbar
    [0, 0, false],
  ])('scrollWidth %i in %i: %s', (sw, cw, want) => {
    expect(overflows(box(sw, cw))).toBe(want);
  });
});

describe('markScrollable', () => {
  it('puts a scrolling wrapper in the tab order as a named region', () => {
    const el = box(800, 300);
    markScrollable(el, 'Per-backend totals');
    expect(el.tabIndex).toBe(0);
    expect(el.getAttribute('role')).toBe('region');
    expect(el.getAttribute('aria-label')).toBe('Per-backend totals');
  });
  it('leaves one that fits a plain div', () => {
    const el = box(800, 300);
    markScrollable(el, 'x');
    Object.defineProperty(el, 'clientWidth', { value: 900 });
    markScrollable(el, 'x');
    expect(el.hasAttribute('tabindex')).toBe(false);
    expect(el.hasAttribute('role')).toBe(false);
    expect(el.hasAttribute('aria-label')).toBe(false);
  });
});
