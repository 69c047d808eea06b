// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { markScrollable, overflows, tableRegions } from './scrollregion';

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

describe('tableRegions', () => {
  it('marks the tables of HTML inserted later (a streamed answer) that overflow', async () => {
    const host = document.createElement('div');
    const action = tableRegions(host, 'Table in the answer');
    host.innerHTML = '<div class="table-wrap"><table></table></div><div class="table-wrap"><table></table></div>';
    const [wide, narrow] = host.querySelectorAll<HTMLElement>('.table-wrap');
    for (const [el, sw] of [[wide, 900], [narrow, 100]] as const) {
      Object.defineProperty(el, 'scrollWidth', { value: sw, configurable: true });
      Object.defineProperty(el, 'clientWidth', { value: 300, configurable: true });
    }
    await new Promise((r) => setTimeout(r, 0)); // the MutationObserver's turn
    action.update('Table in the answer'); // sizes are set after the insert in jsdom: check again
    expect(wide.getAttribute('role')).toBe('region');
    expect(wide.getAttribute('aria-label')).toBe('Table in the answer');
    expect(narrow.hasAttribute('role')).toBe(false);
    action.destroy();
  });
});
