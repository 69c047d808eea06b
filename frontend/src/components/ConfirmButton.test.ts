// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import ConfirmButton from './ConfirmButton.svelte';

afterEach(cleanup);

describe('ConfirmButton', () => {
  it('is named with its verb and what it acts on, and asks once more', async () => {
    const onconfirm = vi.fn();
    const { getByRole } = render(ConfirmButton, { aria: 'route gpt-*', onconfirm });
    const b = getByRole('button', { name: 'Delete route gpt-*' });
    await fireEvent.click(b);
    expect(b.getAttribute('aria-label')).toBe('Confirm: Delete route gpt-*');
    expect(onconfirm).not.toHaveBeenCalled();
    await fireEvent.click(b);
    expect(onconfirm).toHaveBeenCalledOnce();
  });

  it('takes a name that already starts with the verb as it is', () => {
    const { getByRole } = render(ConfirmButton, { label: 'Revoke', aria: 'Revoke key laptop', onconfirm: () => {} });
    getByRole('button', { name: 'Revoke key laptop' });
  });
});
