import { describe, expect, it } from 'vitest';
import { filterItems, isMac, keysLabel, moveActive, shortcutFor, typing } from './shortcuts';

const k = (key: string, mods: Partial<Record<'metaKey' | 'ctrlKey' | 'altKey' | 'shiftKey', boolean>> = {}) => ({ key, metaKey: false, ctrlKey: false, altKey: false, shiftKey: false, ...mods });

describe('shortcutFor', () => {
  it('takes Cmd on a Mac and Ctrl elsewhere', () => {
    expect(shortcutFor(k('k', { metaKey: true }), true, false)).toBe('palette');
    expect(shortcutFor(k('k', { ctrlKey: true }), true, false)).toBeNull(); // Ctrl+K edits text on a Mac
    expect(shortcutFor(k('K', { ctrlKey: true }), false, false)).toBe('palette');
    expect(shortcutFor(k('n', { ctrlKey: true }), false, true)).toBe('new-chat'); // also from a text field
    expect(shortcutFor(k('n', { ctrlKey: true, shiftKey: true }), false, false)).toBeNull();
  });
  it('reads / and ? as shortcuts only outside text fields', () => {
    expect(shortcutFor(k('/'), false, false)).toBe('search');
    expect(shortcutFor(k('?', { shiftKey: true }), false, false)).toBe('help');
    expect(shortcutFor(k('/'), false, true)).toBeNull();
    expect(shortcutFor(k('/', { ctrlKey: true }), false, false)).toBeNull();
    expect(shortcutFor(k('a'), false, false)).toBeNull();
  });
});

describe('typing', () => {
  it('is true in text fields and editable content only', () => {
    const input = (type: string) => Object.assign({ tagName: 'INPUT', type }) as unknown as Element;
    expect(typing(input('text'))).toBe(true);
    expect(typing(input('search'))).toBe(true);
    expect(typing(input('checkbox'))).toBe(false);
    expect(typing({ tagName: 'TEXTAREA' } as Element)).toBe(true);
    expect(typing({ tagName: 'DIV', isContentEditable: true } as unknown as Element)).toBe(true);
    expect(typing({ tagName: 'BUTTON' } as Element)).toBe(false);
    expect(typing(null)).toBe(false);
  });
});

describe('labels', () => {
  it('writes Mod as the platform does', () => {
    expect(isMac('MacIntel')).toBe(true);
    expect(isMac('Linux x86_64')).toBe(false);
    expect(keysLabel('Mod+K', true)).toBe('⌘+K');
    expect(keysLabel('Mod+K', false)).toBe('Ctrl+K');
  });
});

describe('filterItems', () => {
  const items = [{ label: 'Routes' }, { label: 'Providers', keywords: 'openai key' }, { label: 'New chat' }, { label: 'Add a provider' }];
  it('keeps everything for an empty query', () => {
    expect(filterItems(items, '  ')).toHaveLength(4);
  });
  it('matches every word in the label or keywords, label starts first', () => {
    expect(filterItems(items, 'prov').map((i) => i.label)).toEqual(['Providers', 'Add a provider']);
    expect(filterItems(items, 'openai').map((i) => i.label)).toEqual(['Providers']);
    expect(filterItems(items, 'new chat').map((i) => i.label)).toEqual(['New chat']);
    expect(filterItems(items, 'zzz')).toEqual([]);
  });
});

describe('moveActive', () => {
  it.each([
    [0, 'ArrowDown', 1],
    [3, 'ArrowDown', 0],
    [0, 'ArrowUp', 3],
    [2, 'Home', 0],
    [1, 'End', 3],
    [9, 'x', 3],
  ])('from %i, %s goes to %i of 4', (i, key, want) => {
    expect(moveActive(i, key, 4)).toBe(want);
  });
  it('stays at 0 with nothing to choose', () => {
    expect(moveActive(0, 'ArrowDown', 0)).toBe(0);
  });
});
