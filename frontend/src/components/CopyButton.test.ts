// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import CopyButton from './CopyButton.svelte';

afterEach(cleanup);

describe('CopyButton', () => {
  it('copies its text to the clipboard when clicked', async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const { getByRole } = render(CopyButton, { text: 'http://127.0.0.1:11500/v1' });
    await fireEvent.click(getByRole('button'));
    expect(writeText).toHaveBeenCalledWith('http://127.0.0.1:11500/v1');
  });
});
