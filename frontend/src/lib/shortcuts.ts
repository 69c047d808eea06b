// The app's keyboard shortcuts: one table (the help dialog lists it) and
// the function that maps a key press to one of them.

export type Shortcut = 'palette' | 'new-chat' | 'search' | 'help';

/** What each shortcut does, in the order the help lists them ("Mod" is ⌘ on a Mac, Ctrl elsewhere). */
export const shortcutHelp: { keys: string; what: string }[] = [
  { keys: 'Mod+K', what: 'Jump to a screen or an action' },
  { keys: 'Mod+N', what: 'New chat (in a browser tab, Ctrl+N may open a browser window: use Mod+K → New chat)' },
  { keys: '/', what: "Focus the screen's search or filter field" },
  { keys: 'Esc', what: 'Close a dialog, the jump list or the menu' },
  { keys: '?', what: 'Show these shortcuts' },
];

/** Whether the platform's modifier is ⌘ (macOS, iOS) rather than Ctrl. */
export function isMac(platform: string): boolean {
  return /mac|iphone|ipad/i.test(platform);
}

/** A shortcut's keys as this platform writes them. */
export function keysLabel(keys: string, mac: boolean): string {
  return keys.replace('Mod', mac ? '⌘' : 'Ctrl');
}

/** Whether focus is where a key types text: then `/` and `?` are text, not shortcuts. */
export function typing(el: Element | null): boolean {
  if (!el) return false;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const t = (el as HTMLInputElement).type;
    return !['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color', 'file'].includes(t);
  }
  return (el as HTMLElement).isContentEditable === true;
}

type Key = Pick<KeyboardEvent, 'key' | 'metaKey' | 'ctrlKey' | 'altKey' | 'shiftKey'>;

/**
 * The shortcut a key press means, or null. Mod is ⌘ on a Mac and Ctrl
 * elsewhere (Ctrl+K on a Mac is a text-editing key; ⌘K on Linux is
 * nothing). `/` and `?` count only while focus is not in a text field.
 */
export function shortcutFor(e: Key, mac: boolean, inText: boolean): Shortcut | null {
  const mod = mac ? e.metaKey && !e.ctrlKey : e.ctrlKey && !e.metaKey;
  if (mod && !e.altKey && !e.shiftKey) {
    const k = e.key.toLowerCase();
    if (k === 'k') return 'palette';
    if (k === 'n') return 'new-chat';
    return null;
  }
  if (inText || e.metaKey || e.ctrlKey || e.altKey) return null;
  if (e.key === '/') return 'search';
  if (e.key === '?') return 'help';
  return null;
}

/** An entry of the jump list: a screen or an action. */
export interface PaletteItem {
  id: string;
  label: string;
  /** "Screen" or "Action", shown beside it. */
  kind: string;
  /** More words it is found by. */
  keywords?: string;
  run: () => void;
}

/**
 * The entries matching a query: every word of the query must start a word
 * of the label or keywords, or appear in them; entries whose label starts
 * with the query come first, then the list's own order.
 */
export function filterItems<T extends Pick<PaletteItem, 'label' | 'keywords'>>(items: readonly T[], query: string): T[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [...items];
  const hits = items.filter((it) => {
    const hay = (it.label + ' ' + (it.keywords ?? '')).toLowerCase();
    return words.every((w) => hay.includes(w));
  });
  const q = words.join(' ');
  return hits
    .map((it, i) => ({ it, i, first: it.label.toLowerCase().startsWith(q) ? 0 : 1 }))
    .sort((a, b) => a.first - b.first || a.i - b.i)
    .map((x) => x.it);
}

/** The active entry after an arrow key (wrapping), Home or End; the same index for other keys. */
export function moveActive(i: number, key: string, n: number): number {
  if (n <= 0) return 0;
  if (key === 'ArrowDown') return (i + 1) % n;
  if (key === 'ArrowUp') return (i - 1 + n) % n;
  if (key === 'Home') return 0;
  if (key === 'End') return n - 1;
  return Math.min(i, n - 1);
}
