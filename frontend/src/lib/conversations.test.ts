import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConversationSaver } from './conversations';

afterEach(() => vi.unstubAllGlobals());

function fakeAPI() {
  const calls: { method: string; path: string; body: Record<string, unknown> }[] = [];
  let n = 0;
  const gone = new Set<string>();
  vi.stubGlobal(
    'fetch',
    vi.fn(async (path: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body ?? '{}')) as Record<string, unknown>;
      calls.push({ method: String(init.method), path, body });
      await new Promise((r) => setTimeout(r, 2)); // answers arrive later than the next save is asked for
      if (init.method === 'POST') return new Response(JSON.stringify({ id: 'conv_' + ++n }), { status: 201 });
      if (gone.has(path)) return new Response('{"error":{"message":"conversation not found","type":"not_found_error"}}', { status: 404 });
      return new Response('{}', { status: 200 });
    }),
  );
  return { calls, gone };
}

const msgs = (...texts: string[]) => texts.map((t, i) => ({ id: String(i), role: 'user' as const, content: t }));

describe('ConversationSaver', () => {
  it('creates once, titled after the first question, then updates in order', async () => {
    const { calls } = fakeAPI();
    const created: string[] = [];
    const s = new ConversationSaver(null, (id) => created.push(id), (e) => { throw e; });
    s.save({ messages: msgs('Plan a trip\nto Lisbon') });
    await s.save({ messages: msgs('Plan a trip\nto Lisbon', 'and back') });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /api/conversations', 'PUT /api/conversations/conv_1']);
    expect(calls[0].body.title).toBe('Plan a trip');
    expect(calls[1].body.title).toBeUndefined();
    expect(created).toEqual(['conv_1']);
  });

  it('saves a conversation deleted elsewhere anew', async () => {
    const { calls, gone } = fakeAPI();
    gone.add('/api/conversations/conv_old');
    const created: string[] = [];
    const s = new ConversationSaver('conv_old', (id) => created.push(id), (e) => { throw e; });
    await s.save({ messages: msgs('still here') });
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['PUT /api/conversations/conv_old', 'POST /api/conversations']);
    expect(s.id).toBe('conv_1');
    expect(created).toEqual(['conv_1']);
  });

  it('reports a failed save and goes on', async () => {
    fakeAPI();
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{"error":{"message":"messages: holds 1001 messages","type":"invalid_request_error","param":"messages"}}', { status: 400 })));
    const errors: unknown[] = [];
    const s = new ConversationSaver('conv_1', () => {}, (e) => errors.push(e));
    await s.save({ messages: msgs('x') });
    await s.save({ messages: msgs('y') });
    expect(errors).toHaveLength(2);
    expect(String(errors[0])).toContain('1001 messages');
  });
});
