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

  describe('groups', () => {
    const submit = (c: HTMLElement) => fireEvent.submit(c.querySelector('#route-form')!);
    const members = (c: HTMLElement) =>
      [...c.querySelectorAll('[data-testid="route-member"]')].map((li) => {
        const sel = li.querySelector('select') as HTMLSelectElement;
        const model = li.querySelector('input:not([type="number"])') as HTMLInputElement;
        const weight = li.querySelector('input[type="number"]') as HTMLInputElement | null;
        return [sel.value, model.value, weight ? weight.value : null].filter((x) => x !== null).join(' ');
      });

    it('looks and saves as before with one backend: no group fields, no targets sent', async () => {
      const onsave = vi.fn();
      const initial = { ...blankRoute('acme'), model_pattern: 'fast', targets: [{ backend: 'acme', model: '', weight: 1 }], policy: 'first' as const };
      const { container, getByTestId, queryByTestId, getByLabelText } = render(RouteEditor, { ...base, initial, onsave });
      expect(queryByTestId('route-group')).toBeNull();
      expect(queryByTestId('route-policy')).toBeNull();
      expect(getByLabelText('Send to')).toBeTruthy();
      await fireEvent.input(getByTestId('route-backend-model'), { target: { value: 'big' } });
      await submit(container);
      const { targets: _t, policy: _p, ...rest } = initial;
      expect(onsave).toHaveBeenCalledWith({ ...rest, backend_model: 'big' });
    });

    it('adds members, names every field for a screen reader, and saves the group with backend = its first member', async () => {
      const onsave = vi.fn();
      const { container, getByTestId, getByLabelText, getByRole } = render(RouteEditor, {
        ...base, backends: ['local', 'acme', 'backup'], initial: { ...blankRoute('acme'), model_pattern: 'fast' }, onsave,
      });
      await fireEvent.click(getByTestId('route-member-add'));
      const group = getByTestId('route-group');
      expect(group.tagName).toBe('FIELDSET');
      expect(group.querySelector('legend')?.textContent).toBe('Backends');
      // The new member takes the first backend not in the group yet, and has focus.
      expect(members(container)).toEqual(['acme ', 'local ']);
      expect(document.activeElement).toBe(getByLabelText('Backend 2'));
      expect(getByLabelText('Backend 1')).toBe(getByTestId('route-backend'));
      expect(getByLabelText('Backend 2: send as (model)')).toBe(getByTestId('route-backend-model-1'));
      await fireEvent.change(getByLabelText('Backend 2'), { target: { value: 'backup' } });
      await fireEvent.input(getByLabelText('Backend 2: send as (model)'), { target: { value: 'big' } });
      await fireEvent.click(getByTestId('route-member-add'));
      expect(members(container)).toEqual(['acme ', 'backup big', 'local ']);
      await fireEvent.click(getByRole('button', { name: 'Move backend local earlier' }));
      await fireEvent.click(getByRole('button', { name: 'Remove backend acme' }));
      expect(members(container)).toEqual(['local ', 'backup big']);
      expect((getByTestId('route-policy') as HTMLSelectElement).value).toBe('first');
      await submit(container);
      expect(onsave).toHaveBeenLastCalledWith(expect.objectContaining({
        backend: 'local', backend_model: '', policy: 'first',
        targets: [{ backend: 'local', model: '', weight: 1 }, { backend: 'backup', model: 'big', weight: 1 }],
      }));
    });

    it('shows weights only for the weighted policy, with help and the affinity note', async () => {
      const onsave = vi.fn();
      const initial = {
        ...blankRoute('acme'), model_pattern: 'fast',
        targets: [{ backend: 'acme', model: '', weight: 1 }, { backend: 'local', model: 'qwen', weight: 1 }], policy: 'first' as const,
      };
      const { container, getByTestId, queryByTestId, getByLabelText } = render(RouteEditor, { ...base, initial, onsave });
      expect(members(container)).toEqual(['acme ', 'local qwen']);
      expect(getByTestId('route-policy-help').textContent).toMatch(/first backend in this order/);
      expect(queryByTestId('route-affinity-note'), 'first needs no affinity').toBeNull();
      expect(queryByTestId('route-weight-0')).toBeNull();
      await fireEvent.change(getByLabelText('Share requests'), { target: { value: 'weighted' } });
      expect(getByTestId('route-policy-help').textContent).toMatch(/shared by weight/);
      expect(getByTestId('route-affinity-note').textContent).toMatch(/conversation stays on the backend/);
      expect(members(container)).toEqual(['acme  1', 'local qwen 1']);
      await fireEvent.input(getByLabelText('Backend 1: weight'), { target: { value: '3' } });
      await submit(container);
      expect(onsave).toHaveBeenLastCalledWith(expect.objectContaining({
        backend: 'acme', policy: 'weighted', targets: [{ backend: 'acme', model: '', weight: 3 }, { backend: 'local', model: 'qwen', weight: 1 }],
      }));
      await fireEvent.change(getByLabelText('Share requests'), { target: { value: 'least-busy' } });
      expect(queryByTestId('route-weight-0')).toBeNull();
      expect(getByTestId('route-affinity-note')).toBeTruthy();
      expect(getByTestId('route-policy-help').textContent).toMatch(/fewest requests in flight/);
    });

    it('sends the group cut down to one backend (policy first, weight 1), so the stored group is replaced', async () => {
      const onsave = vi.fn();
      const initial = {
        ...blankRoute('acme'), targets: [{ backend: 'acme', model: '', weight: 2 }, { backend: 'local', model: '', weight: 1 }], policy: 'weighted' as const,
      };
      const { container, getByRole, queryByTestId, getByLabelText } = render(RouteEditor, { ...base, initial, onsave });
      await fireEvent.click(getByRole('button', { name: 'Remove backend acme' }));
      expect(queryByTestId('route-group'), 'one backend: the plain form again').toBeNull();
      expect((getByLabelText('Send to') as HTMLSelectElement).value).toBe('local');
      await submit(container);
      expect(onsave).toHaveBeenLastCalledWith(expect.objectContaining({ backend: 'local', targets: [{ backend: 'local', model: '', weight: 1 }], policy: 'first' }));
    });

    it("shows the server's errors at the member's field", () => {
      const initial = {
        ...blankRoute('acme'), targets: [{ backend: 'acme', model: '', weight: 1 }, { backend: 'local', model: '', weight: 0 }], policy: 'weighted' as const,
      };
      const { getByTestId, queryByTestId } = render(RouteEditor, {
        ...base, initial,
        errors: { 'targets[1].weight': 'is 0; give a whole number from 1 to 1000' },
      });
      expect(getByTestId('error-targets-1-weight').textContent).toMatch(/from 1 to 1000/);
      expect(getByTestId('route-weight-1').getAttribute('aria-invalid')).toBe('true');
      expect(getByTestId('route-weight-1').getAttribute('aria-describedby'), 'the field names its error').toBe(getByTestId('error-targets-1-weight').id);
      expect(getByTestId('route-weight-0').getAttribute('aria-invalid')).toBe('false');
      expect(queryByTestId('error-targets-0-weight')).toBeNull();
      cleanup();
      const r2 = render(RouteEditor, { ...base, initial, errors: { 'targets[1]': 'repeats targets[0]', 'targets[0].backend': 'no provider "gone"', policy: 'is "x"' } });
      expect(r2.getByTestId('error-targets-1').textContent).toBe('repeats targets[0]');
      expect(r2.getByTestId('error-targets-0-backend').textContent).toBe('no provider "gone"');
      expect(r2.getByTestId('route-backend').getAttribute('aria-invalid')).toBe('true');
      expect(r2.getByTestId('error-policy').textContent).toBe('is "x"');
    });

    it('shows a refused weight even when the policy does not use weights', () => {
      const initial = {
        ...blankRoute('acme'), targets: [{ backend: 'acme', model: '', weight: 1 }, { backend: 'local', model: '', weight: 5000 }], policy: 'first' as const,
      };
      const { getByTestId, queryByTestId } = render(RouteEditor, { ...base, initial, errors: { 'targets[1].weight': 'is 5000' } });
      expect((getByTestId('route-weight-1') as HTMLInputElement).value).toBe('5000');
      expect(queryByTestId('route-weight-0')).toBeNull();
      expect(getByTestId('error-targets-1-weight').textContent).toBe('is 5000');
    });

    it("shows member 0's error at the plain form's fields when the route has one backend", () => {
      const { getByTestId } = render(RouteEditor, { ...base, initial: blankRoute('acme'), errors: { 'targets[0].model': 'is too long' } });
      expect(getByTestId('error-backend_model').textContent).toBe('is too long');
    });

    it('warns of a repeated member and of a model its backend does not list, per member', async () => {
      const initial = {
        ...blankRoute('acme'), model_pattern: 'fast',
        targets: [{ backend: 'acme', model: 'm-small', weight: 1 }, { backend: 'acme', model: 'nope', weight: 1 }, { backend: 'acme', model: 'm-small', weight: 1 }],
      };
      const { getByTestId, queryByTestId } = render(RouteEditor, { ...base, initial, models: { acme: ['m-small'] }, modelsKnown: { acme: true } });
      expect(queryByTestId('route-model-unknown')).toBeNull();
      expect(getByTestId('route-model-unknown-1').textContent).toMatch(/acme does not list a model named nope/);
      expect(getByTestId('route-member-repeated-2').textContent).toMatch(/same backend and model as backend 1/);
      expect(queryByTestId('route-member-repeated-1')).toBeNull();
    });

    it("refuses a fallback that repeats a group member", async () => {
      const initial = { ...blankRoute('acme'), targets: [{ backend: 'acme', model: '', weight: 1 }, { backend: 'local', model: '', weight: 1 }] };
      const { getByTestId } = render(RouteEditor, { ...base, initial });
      const fb = getByTestId('route-fallback-backend') as HTMLSelectElement;
      await fireEvent.change(fb, { target: { value: 'local' } });
      expect((getByTestId('route-fallback-add') as HTMLButtonElement).disabled).toBe(true);
      expect(getByTestId('route-fallback-why').textContent).toBe("local is already in the route's group");
    });

    it('takes an optional context window: empty is null', async () => {
      const onsave = vi.fn();
      const { container, getByLabelText } = render(RouteEditor, { ...base, initial: { ...blankRoute('acme'), max_context: 8192 }, onsave });
      const ctx = getByLabelText('Context window (tokens)') as HTMLInputElement;
      expect(ctx.value).toBe('8192');
      expect(document.getElementById(ctx.getAttribute('aria-describedby')!)?.textContent).toMatch(/model list does not give a context length/);
      await fireEvent.input(ctx, { target: { value: '' } });
      await submit(container);
      expect(onsave).toHaveBeenLastCalledWith(expect.objectContaining({ max_context: null }));
      await fireEvent.input(ctx, { target: { value: '32768' } });
      await submit(container);
      expect(onsave).toHaveBeenLastCalledWith(expect.objectContaining({ max_context: 32768 }));
    });
  });
});
