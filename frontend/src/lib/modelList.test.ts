import { afterEach, describe, expect, it, vi } from 'vitest';

const call = vi.fn();
vi.mock('./client', () => ({ call: (...args: unknown[]) => call(...args) }));
const { backendModels, forgetModels } = await import('./modelList');

afterEach(() => {
  call.mockReset();
  forgetModels();
});

describe('backendModels', () => {
  it('asks the server once a minute per backend', async () => {
    call.mockResolvedValue({ provider: 'acme', known: true, models: [{ id: 'm-small' }] });
    expect((await backendModels('acme')).models).toEqual([{ id: 'm-small' }]);
    await backendModels('acme');
    expect(call).toHaveBeenCalledTimes(1);
    expect(call).toHaveBeenCalledWith('GET', '/api/providers/acme/models');
    await backendModels('acme', 0); // too old
    expect(call).toHaveBeenCalledTimes(2);
  });

  it('asks again after a provider changed', async () => {
    call.mockResolvedValue({ provider: 'acme', known: true, models: [] });
    await backendModels('acme');
    forgetModels('acme');
    await backendModels('acme');
    expect(call).toHaveBeenCalledTimes(2);
  });

  it('answers "not known" with the reason when the call fails, and does not keep it', async () => {
    call.mockRejectedValueOnce(new Error('provider "gone" not found'));
    expect(await backendModels('gone')).toEqual({ provider: 'gone', known: false, models: [], error: 'provider "gone" not found' });
    call.mockResolvedValue({ provider: 'gone', known: true, models: [{ id: 'x' }] });
    expect((await backendModels('gone')).known).toBe(true);
  });

  it('escapes the name in the path', async () => {
    call.mockResolvedValue({ provider: 'a b', known: false, models: [] });
    await backendModels('a b');
    expect(call).toHaveBeenCalledWith('GET', '/api/providers/a%20b/models');
  });
});
