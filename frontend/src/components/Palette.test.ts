// @vitest-environment jsdom
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import Palette from './Palette.svelte';

// jsdom has <dialog> without its modal methods, and no scrolling.
beforeAll(() => {
  Element.prototype.scrollIntoView = function () {};
  HTMLDialogElement.prototype.showModal = function (this: HTMLDialogElement) {
    this.setAttribute('open', '');
  };
  HTMLDialogElement.prototype.close = function (this: HTMLDialogElement) {
    this.removeAttribute('open');
    this.dispatchEvent(new Event('close'));
  };
});
afterEach(cleanup);

function items() {
  const ran: string[] = [];
  const mk = (id: string, label: string, kind = 'Screen', keywords = '') => ({ id, label, kind, keywords, run: () => ran.push(id) });
  return { ran, list: [mk('go-routes', 'Routes'), mk('go-providers', 'Providers', 'Screen', 'openai'), mk('new-chat', 'New chat', 'Action'), mk('add-provider', 'Add a provider', 'Action')] };
}

describe('Palette', () => {
  it('opens focused on its input, with every entry', async () => {
    const { list } = items();
    const { getByTestId, getAllByRole } = render(Palette, { open: true, items: list });
    await waitFor(() => expect(document.activeElement).toBe(getByTestId('palette-input')));
    expect(getAllByRole('option').map((o) => o.textContent?.trim())).toEqual(['RoutesScreen', 'ProvidersScreen', 'New chatAction', 'Add a providerAction']);
    expect(getAllByRole('option')[0].getAttribute('aria-selected')).toBe('true');
  });

  it('filters as you type, arrows choose, Enter runs and closes', async () => {
    const { list, ran } = items();
    const { getByTestId, getAllByRole } = render(Palette, { open: true, items: list });
    const input = getByTestId('palette-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'prov' } });
    expect(getAllByRole('option').map((o) => o.dataset.id)).toEqual(['go-providers', 'add-provider']);
    await fireEvent.keyDown(input, { key: 'ArrowDown' });
    const opts = getAllByRole('option');
    expect(opts[1].getAttribute('aria-selected')).toBe('true');
    expect(input.getAttribute('aria-activedescendant')).toBe(opts[1].id);
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(ran).toEqual(['add-provider']);
    await waitFor(() => expect(getByTestId('palette').hasAttribute('open')).toBe(false));
  });

  it('runs an entry on click', async () => {
    const { list, ran } = items();
    const { getAllByRole } = render(Palette, { open: true, items: list });
    await fireEvent.click(getAllByRole('option')[2]);
    expect(ran).toEqual(['new-chat']);
  });

  it('says when nothing matches, and Enter then does nothing', async () => {
    const { list, ran } = items();
    const { getByTestId, getByText } = render(Palette, { open: true, items: list });
    await fireEvent.input(getByTestId('palette-input'), { target: { value: 'zzz' } });
    getByText('Nothing matches “zzz”');
    await fireEvent.keyDown(getByTestId('palette-input'), { key: 'Enter' });
    expect(ran).toEqual([]);
  });

  it('closing the dialog (Escape) sets open false', async () => {
    const { list } = items();
    const onclose = vi.fn();
    const { getByTestId } = render(Palette, { open: true, items: list });
    const dlg = getByTestId('palette') as HTMLDialogElement;
    dlg.addEventListener('close', onclose);
    dlg.close(); // what the browser does on Escape
    expect(onclose).toHaveBeenCalled();
    await waitFor(() => expect(getByTestId('palette').querySelector('input')).toBeNull());
  });
});
