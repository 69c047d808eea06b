// A table that scrolls sideways inside its panel must be reachable by
// keyboard (axe's scrollable-region-focusable): while it overflows, its
// wrapper is a named region in the tab order, so arrow keys scroll it.
// While it fits it is a plain div again, adding no needless tab stop.

/** Whether an element's content is wider (or taller) than its box. */
export function overflows(el: Pick<HTMLElement, 'scrollWidth' | 'clientWidth' | 'scrollHeight' | 'clientHeight'>): boolean {
  return el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1;
}

/** Makes a scrolling node focusable and named, or plain again, after its size. */
export function markScrollable(node: HTMLElement, label: string): void {
  if (overflows(node)) {
    node.tabIndex = 0;
    node.setAttribute('role', 'region');
    node.setAttribute('aria-label', label);
  } else {
    node.removeAttribute('tabindex');
    node.removeAttribute('role');
    node.removeAttribute('aria-label');
  }
}

/**
 * Svelte action for a `div.table-wrap`: `use:scrollRegion={'Requests table'}`.
 * It re-checks when the wrapper or its content resizes and when the content
 * is replaced.
 */
export function scrollRegion(node: HTMLElement, label: string) {
  let name = label;
  const update = () => markScrollable(node, name);
  update();
  if (typeof ResizeObserver === 'undefined') return { update: (l: string) => ((name = l), update()) };
  const ro = new ResizeObserver(update);
  const watch = () => {
    ro.disconnect();
    ro.observe(node);
    for (const c of node.children) ro.observe(c);
  };
  watch();
  const mo = new MutationObserver(() => {
    watch();
    update();
  });
  mo.observe(node, { childList: true });
  return {
    update(l: string) {
      name = l;
      update();
    },
    destroy() {
      ro.disconnect();
      mo.disconnect();
    },
  };
}

/**
 * Svelte action for a container of HTML it does not render itself (a
 * chat answer's markdown): every `.table-wrap` inside it is marked as
 * scrollRegion marks one, again whenever the content or the container's
 * size changes.
 */
export function tableRegions(node: HTMLElement, label: string) {
  let name = label;
  const update = () => node.querySelectorAll<HTMLElement>('.table-wrap').forEach((w) => markScrollable(w, name));
  update();
  const mo = new MutationObserver(update);
  mo.observe(node, { childList: true, subtree: true });
  const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(update);
  ro?.observe(node);
  return {
    update(l: string) {
      name = l;
      update();
    },
    destroy() {
      mo.disconnect();
      ro?.disconnect();
    },
  };
}
