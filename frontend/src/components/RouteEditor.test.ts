// @vitest-environment jsdom
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, within } from '@testing-library/svelte';
import FallbackEditor from './FallbackEditor.svelte';
import RouteEditor from './RouteEditor.svelte';
import { blankRoute } from '../lib/routes';

beforeAll(() => {
  // jsdom has <dialog> but not its modal methods.
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
  };
});
afterEach(cleanup);

const entries = (c: HTMLElement) => [...c.querySelectorAll('[data-testid="route-fallback-entry"] .mono')].map((e) => e.textContent);

describe('FallbackEditor', () => {
  it('never offers a blank backend, and adds the one it shows', async () => {
    const { container, getByTestId } = render(FallbackEditor, { value: [], backends: ['local', 'acme', 'backup'], primary: 'acme', id: 'fb' });
    const select = getByTestId('route-fallback-backend') as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(['local', 'acme', 'backup']);
    expect(select.value).toBe('local');
    await fireEvent.click(getByTestId('route-fallback-add'));
    expect(entries(container)).toEqual(['local']);
    // The next free backend is chosen: not the route's own, not one in the chain.
    expect(select.value).toBe('backup');
    await fireEvent.change(select, { target: { value: 'backup' } });
    await fireEvent.input(getByTestId('route-fallback-model'), { target: { value: 'big' } });
    await fireEvent.click(getByTestId('route-fallback-add'));
    expect(entries(container)).toEqual(['local', 'backup:big']);
  });

  it("refuses the route's own backend without another model, and says why", async () => {
    const { container, getByTestId } = render(FallbackEditor, { value: ['local'], backends: ['local', 'acme'], primary: 'acme', id: 'fb' });
    const select = getByTestId('route-fallback-backend') as HTMLSelectElement;
    await fireEvent.change(select, { target: { value: 'acme' } });
    const add = getByTestId('route-fallback-add') as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    expect(getByTestId('route-fallback-why').textContent).toMatch(/already the route's backend/);
    await fireEvent.input(getByTestId('route-fallback-model'), { target: { value: 'm-large' } });
    expect(add.disabled).toBe(false);
    expect(add.getAttribute('aria-label')).toBe('Add fallback acme:m-large');
    await fireEvent.click(add);
    expect(entries(container)).toEqual(['local', 'acme:m-large']);
  });

  it('moves and removes entries with named buttons', async () => {
    const { container, getByRole } = render(FallbackEditor, { value: ['local', 'backup'], backends: ['local', 'acme', 'backup'], primary: 'acme', id: 'fb' });
    await fireEvent.click(getByRole('button', { name: 'Move fallback backup earlier' }));
    expect(entries(container)).toEqual(['backup', 'local']);
    await fireEvent.click(getByRole('button', { name: 'Remove fallback local' }));
    expect(entries(container)).toEqual(['backup']);
  });

  it("suggests the chosen backend's models", async () => {
    const onwant = vi.fn();
    const { container, getByTestId } = render(FallbackEditor, {
      value: [], backends: ['local', 'acme'], primary: 'local', models: { acme: ['m-small', 'm-large'] }, onwant, id: 'fb',
    });
    expect(getByTestId('route-fallback-backend')).toHaveProperty('value', 'acme');
    expect(onwant).toHaveBeenCalledWith('acme');
    expect([...container.querySelectorAll('#fb-models option')].map((o) => o.getAttribute('value'))).toEqual(['m-small', 'm-large']);
  });
});

describe('RouteEditor', () => {
  const base = { open: true, backends: ['local', 'acme'], onsave: () => {} };

  it('names its fields for what they do', () => {
    const { getByLabelText } = render(RouteEditor, { ...base, initial: blankRoute('acme') });
    expect(getByLabelText('Model name (pattern)')).toBeTruthy();
    expect(getByLabelText('Send to')).toBeTruthy();
    expect(getByLabelText('Send to the provider as')).toBeTruthy();
  });

  it("suggests the backend's models and warns about one it does not list", async () => {
    const onwant = vi.fn();
    const { getByTestId, queryByTestId, container } = render(RouteEditor, {
      ...base, initial: blankRoute('acme'), models: { acme: ['m-small', 'm-large'] }, modelsKnown: { acme: true }, onwant,
    });
    expect(onwant).toHaveBeenCalledWith('acme');
    expect([...container.querySelectorAll('#rt-model-list option')].map((o) => o.getAttribute('value'))).toEqual(['m-small', 'm-large']);
    await fireEvent.input(getByTestId('route-pattern'), { target: { value: 'fast' } });
    expect(getByTestId('route-model-unknown').textContent).toMatch(/acme does not list a model named fast/);
    await fireEvent.input(getByTestId('route-backend-model'), { target: { value: 'm-small' } });
    expect(queryByTestId('route-model-unknown')).toBeNull();
    await fireEvent.input(getByTestId('route-pattern'), { target: { value: 'gpt-*' } });
    await fireEvent.input(getByTestId('route-backend-model'), { target: { value: '' } });
    expect(queryByTestId('route-model-unknown'), 'a wildcard names no one model').toBeNull();
  });

  it('says nothing of models when the list is not known', async () => {
    const { getByTestId, queryByTestId } = render(RouteEditor, { ...base, initial: blankRoute('acme'), models: {}, modelsKnown: {} });
    await fireEvent.input(getByTestId('route-pattern'), { target: { value: 'fast' } });
    expect(queryByTestId('route-model-unknown')).toBeNull();
  });

  it('saves what was entered, starting from the route it was opened with', async () => {
    const onsave = vi.fn();
    const initial = { ...blankRoute('acme'), model_pattern: '', backend_model: 'm-large' }; // "Add an alias"
    const { getByTestId, getByLabelText } = render(RouteEditor, { ...base, initial, onsave });
    expect((getByLabelText('Send to the provider as') as HTMLInputElement).value).toBe('m-large');
    await fireEvent.input(getByTestId('route-pattern'), { target: { value: 'big' } });
    await fireEvent.change(getByTestId('route-fallback-backend'), { target: { value: 'local' } });
    await fireEvent.click(getByTestId('route-fallback-add'));
    await fireEvent.submit(getByTestId('route-dialog').querySelector('form')!);
    expect(onsave).toHaveBeenCalledWith({ ...initial, model_pattern: 'big', fallbacks: ['local'] });
  });

  it('takes an optional budget: empty is no limit (null), a number is sent as a number', async () => {
    const onsave = vi.fn();
    const initial = { ...blankRoute('acme'), model_pattern: 'gpt-*', max_requests_per_minute: 60, max_tokens_per_day: null };
    const { getByTestId, getByLabelText } = render(RouteEditor, { ...base, initial, onsave });
    const rpm = getByLabelText('Requests per minute (at most)') as HTMLInputElement;
    const tpd = getByLabelText('Tokens per day (at most)') as HTMLInputElement;
    expect(rpm.value).toBe('60');
    expect(tpd.value).toBe('');
    expect(tpd.placeholder).toBe('no limit');
    await fireEvent.input(tpd, { target: { value: '1000000' } });
    await fireEvent.submit(getByTestId('route-dialog').querySelector('form')!);
    expect(onsave).toHaveBeenLastCalledWith({ ...initial, max_requests_per_minute: 60, max_tokens_per_day: 1000000 });
    await fireEvent.input(rpm, { target: { value: '' } });
    await fireEvent.submit(getByTestId('route-dialog').querySelector('form')!);
    expect(onsave).toHaveBeenLastCalledWith({ ...initial, max_requests_per_minute: null, max_tokens_per_day: 1000000 });
  });

  it("shows the server's errors at the budget fields", () => {
    const { getByTestId } = render(RouteEditor, {
      ...base, initial: blankRoute('acme'), errors: { max_tokens_per_day: 'is 0; give a positive whole number, or null for no limit' },
    });
    expect(getByTestId('error-max_tokens_per_day').textContent).toMatch(/positive whole number/);
    expect(getByTestId('route-max-tpd').getAttribute('aria-invalid')).toBe('true');
  });

  it('shows the server\'s errors at their fields', () => {
    const { getByTestId } = render(RouteEditor, { ...base, initial: blankRoute('acme'), errors: { model_pattern: 'unterminated [' } });
    expect(within(getByTestId('route-dialog')).getByTestId('error-model_pattern').textContent).toBe('unterminated [');
  });
});
