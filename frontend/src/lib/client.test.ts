import { describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  SSEParser,
  createClient,
  decodeError,
  gatewayModels,
  readSSE,
  streamChat,
  type ChatProgress,
  type RawResponse,
  type SignInReason,
} from './client';

function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

function sseResponse(parts: string[], headers: Record<string, string> = {}) {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(ctrl) {
      for (const p of parts) ctrl.enqueue(enc.encode(p));
      ctrl.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream', ...headers } });
}

describe('transport selection', () => {
  it('uses the Wails binding when window.go.main.App.Call exists', async () => {
    const Call = vi.fn(async (): Promise<RawResponse> => ({ status: 200, body: '[{"id":1}]' }));
    const fetchFn = vi.fn();
    const c = createClient({
      window: { go: { main: { App: { Call } } }, location: { origin: 'wails://wails' } },
      fetch: fetchFn as unknown as typeof fetch,
    });
    expect(c.kind).toBe('wails');
    expect(await c.call('get', '/api/routes')).toEqual([{ id: 1 }]);
    expect(Call).toHaveBeenCalledWith('GET', '/api/routes', '');
    await c.call('POST', '/api/routes', { model_pattern: 'gpt-*' });
    expect(Call).toHaveBeenLastCalledWith('POST', '/api/routes', '{"model_pattern":"gpt-*"}');
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it('uses same-origin fetch with the session cookie otherwise, never a token', async () => {
    const fetchFn = vi.fn(async (_url: string, _init?: RequestInit) => jsonResponse(200, { ok: true }));
    const c = createClient({
      window: { location: { origin: 'http://127.0.0.1:11500' } },
      fetch: fetchFn as unknown as typeof fetch,
    });
    expect(c.kind).toBe('http');
    await c.call('PUT', '/api/settings', { max_retries: 1 });
    const [url, init] = fetchFn.mock.calls[0];
    expect(url).toBe('/api/settings');
    expect(init?.method).toBe('PUT');
    expect(init?.credentials).toBe('same-origin');
    expect(init?.cache).toBe('no-store');
    const headers = init?.headers as Record<string, string>;
    expect(headers.Authorization).toBeUndefined();
    expect(Object.keys(headers).sort()).toEqual(['Accept', 'Content-Type']);
    expect(headers['Content-Type']).toBe('application/json');
    expect(init?.body).toBe('{"max_retries":1}');
  });

  it('ignores a window.go without a Call function', () => {
    const c = createClient({
      window: { go: { main: { App: {} } }, location: { origin: 'http://x' } },
      fetch: vi.fn() as unknown as typeof fetch,
    });
    expect(c.kind).toBe('http');
  });

  it("sends /v1 to the page's own origin: the server in a browser, the window's in-process handler in Wails", async () => {
    const http = createClient({
      window: { location: { origin: 'http://127.0.0.1:4000' } },
      fetch: vi.fn() as unknown as typeof fetch,
    });
    expect(await http.gatewayBase()).toBe('http://127.0.0.1:4000');

    const Call = vi.fn(async () => ({ status: 200, body: '{}' }));
    const fetchFn = vi.fn(async () => jsonResponse(200, { data: [{ id: 'gpt-4o' }, { id: 'fast' }] }));
    const w = createClient({
      window: { go: { main: { App: { Call } } }, location: { origin: 'wails://wails' } },
      fetch: fetchFn as unknown as typeof fetch,
    });
    expect(await w.gatewayBase()).toBe('');
    expect(await gatewayModels(w)).toEqual(['gpt-4o', 'fast']);
    expect(fetchFn).toHaveBeenCalledWith('/v1/models', { credentials: 'same-origin', headers: {} });
    expect(Call).not.toHaveBeenCalled(); // no address to look up, no key to fetch
  });

  it('returns undefined for 204', async () => {
    const c = createClient({
      window: { location: { origin: '' } },
      fetch: (async () => jsonResponse(204, null)) as unknown as typeof fetch,
    });
    expect(await c.call('DELETE', '/api/routes/3')).toBeUndefined();
  });
});

describe('signing in (browser)', () => {
  const unauthorized = (code: string) =>
    jsonResponse(401, { error: { message: 'sign in', type: 'authentication_error', param: null, code } });

  function browser(answer: (url: string, init?: RequestInit) => Response) {
    const fetchFn = vi.fn(async (url: string, init?: RequestInit) => answer(url, init));
    const c = createClient({ window: { location: { origin: 'http://127.0.0.1:11500' } }, fetch: fetchFn as unknown as typeof fetch });
    const reasons: SignInReason[] = [];
    const off = c.onSignInNeeded((r) => reasons.push(r));
    return { c, fetchFn, reasons, off };
  }

  it.each([
    ['invalid_admin_token', 'required'],
    ['session_expired', 'expired'],
  ] as const)('a 401 (%s) asks to sign in (%s) and still throws', async (code, reason) => {
    const { c, reasons } = browser(() => unauthorized(code));
    await expect(c.call('GET', '/api/status')).rejects.toMatchObject({ status: 401, code });
    expect(reasons).toEqual([reason]);
  });

  it('does not ask to sign in for other errors, nor after unsubscribing', async () => {
    let status = 403;
    const { c, reasons, off } = browser(() =>
      status === 401 ? unauthorized('invalid_admin_token') : jsonResponse(status, { error: { message: 'no', type: 'permission_error' } }),
    );
    await expect(c.call('PUT', '/api/settings', {})).rejects.toMatchObject({ status: 403 });
    status = 500;
    await expect(c.call('GET', '/api/status')).rejects.toMatchObject({ status: 500 });
    expect(reasons).toEqual([]);
    off();
    status = 401;
    await expect(c.call('GET', '/api/status')).rejects.toMatchObject({ status: 401 });
    expect(reasons).toEqual([]);
  });

  it('never asks the desktop window to sign in', async () => {
    const Call = async () => ({ status: 401, body: '{"error":{"message":"x","type":"authentication_error","code":"invalid_admin_token"}}' });
    const c = createClient({ window: { go: { main: { App: { Call } } } }, fetch: vi.fn() as unknown as typeof fetch });
    const reasons: SignInReason[] = [];
    c.onSignInNeeded((r) => reasons.push(r));
    await expect(c.call('GET', '/api/status')).rejects.toMatchObject({ status: 401 });
    await c.signOut(); // nothing to sign out of
    expect(reasons).toEqual([]);
  });

  it('signs out by deleting its own session', async () => {
    const { c, fetchFn, reasons } = browser((url, init) =>
      init?.method === 'GET'
        ? jsonResponse(200, [
            { id: 'other', current: false },
            { id: 'mine/1', current: true },
          ])
        : jsonResponse(204, null),
    );
    await c.signOut();
    expect(fetchFn.mock.calls.map(([url, init]) => `${init?.method} ${url}`)).toEqual(['GET /api/sessions', 'DELETE /api/sessions/mine%2F1']);
    expect(reasons).toEqual(['signed-out']);
  });

  it('signs every browser out, this one included', async () => {
    const { c, fetchFn, reasons } = browser(() => jsonResponse(204, null));
    await c.signOutEverywhere();
    expect(fetchFn.mock.calls.map(([url, init]) => `${init?.method} ${url}`)).toEqual(['DELETE /api/sessions']);
    expect(reasons).toEqual(['signed-out']);
  });

  it('sends the session cookie to /v1 (the signed-in chat needs no key), and leaves it out when a key is given', async () => {
    const { c, fetchFn } = browser(() => sseResponse(['data: [DONE]\n\n']));
    await streamChat(c, { model: 'm', messages: [] }, () => {});
    await gatewayModels(c).catch(() => {});
    expect(fetchFn.mock.calls.map(([, init]) => init?.credentials)).toEqual(['same-origin', 'same-origin']);
    for (const [, init] of fetchFn.mock.calls) expect((init?.headers as Record<string, string>).Authorization).toBeUndefined();

    fetchFn.mockClear();
    await streamChat(c, { model: 'm', messages: [], apiKey: 'mb-test' }, () => {});
    await gatewayModels(c, 'mb-test').catch(() => {});
    for (const [, init] of fetchFn.mock.calls) {
      expect(init?.credentials).toBe('omit');
      expect((init?.headers as Record<string, string>).Authorization).toBe('Bearer mb-test');
    }
  });
});

describe('errors', () => {
  it('decodes the API error body with its param', async () => {
    const body = {
      error: { message: 'fallbacks[1]: "x" is not a provider', type: 'invalid_request_error', param: 'fallbacks[1]', code: null },
    };
    const c = createClient({
      window: { location: { origin: '' } },
      fetch: (async () => jsonResponse(400, body)) as unknown as typeof fetch,
    });
    const err = await c.call('POST', '/api/routes', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(400);
    expect(e.type).toBe('invalid_request_error');
    expect(e.param).toBe('fallbacks[1]');
    expect(e.field).toBe('fallbacks');
    expect(e.fieldMessage).toBe('"x" is not a provider');
    expect(e.code).toBeNull();
  });

  it('decodes errors from the Wails transport the same way', async () => {
    const Call = async () => ({ status: 409, body: '{"error":{"message":"in use","type":"conflict_error","param":null,"code":"provider_in_use"}}' });
    const c = createClient({ window: { go: { main: { App: { Call } } } }, fetch: vi.fn() as unknown as typeof fetch });
    await expect(c.call('DELETE', '/api/providers/x')).rejects.toMatchObject({ status: 409, code: 'provider_in_use', message: 'in use' });
  });

  it('copes with bodies that are not the API shape', () => {
    expect(decodeError(502, 'Bad Gateway\n').message).toBe('Bad Gateway');
    expect(decodeError(500, '').message).toBe('HTTP 500');
    expect(decodeError(429, '{"error":"slow down"}').message).toBe('slow down');
    expect(decodeError(400, '{"error":{"type":"x"}}').message).toBe('HTTP 400');
  });

  it('reports a transport that cannot send as status 0', async () => {
    const c = createClient({
      window: { location: { origin: '' } },
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof fetch,
    });
    await expect(c.call('GET', '/api/status')).rejects.toMatchObject({ status: 0, type: 'network_error' });
    const w = createClient({
      window: { go: { main: { App: { Call: () => Promise.reject('server stopped') } } } },
      fetch: vi.fn() as unknown as typeof fetch,
    });
    await expect(w.call('GET', '/api/status')).rejects.toMatchObject({ status: 0, message: 'cannot reach modelbar: server stopped' });
  });
});

describe('SSE parsing', () => {
  it('splits events across arbitrary chunk boundaries', () => {
    const p = new SSEParser();
    const text = 'event: message_start\ndata: {"a":1}\n\n: keep-alive\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';
    const got = [];
    for (const ch of text) got.push(...p.push(ch));
    got.push(...p.end());
    expect(got).toEqual([
      { event: 'message_start', data: '{"a":1}' },
      { event: '', data: 'line1\nline2' },
      { event: '', data: '[DONE]' },
    ]);
  });

  it('accepts CRLF and CR line ends, no space after the colon, and a final event without a blank line', () => {
    const p = new SSEParser();
    const got = [...p.push('data:one\r\n\r\ndata: two\r'), ...p.push('\rdata: three'), ...p.end()];
    expect(got.map((e) => e.data)).toEqual(['one', 'two', 'three']);
  });

  it('reads events from a byte stream, multi-byte characters split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: {"t":"héllo ✓"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (const b of bytes) ctrl.enqueue(new Uint8Array([b]));
        ctrl.close();
      },
    });
    const got = [];
    for await (const ev of readSSE(body)) got.push(ev);
    expect(got).toEqual([{ event: '', data: '{"t":"héllo ✓"}' }]);
  });
});

describe('streamChat', () => {
  const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

  it('streams content, reads the backend headers, usage and speed', async () => {
    let t = 0;
    const fetchFn = vi.fn(async (_url: string, init?: RequestInit) => {
      expect(JSON.parse(String(init?.body))).toMatchObject({ model: 'fast', stream: true, stream_options: { include_usage: true } });
      return sseResponse(
        [
          chunk({ model: 'gpt-4o-mini', choices: [{ delta: { role: 'assistant', content: 'Hel' } }] }),
          chunk({ choices: [{ delta: { content: 'lo' }, finish_reason: 'stop' }] }),
          chunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }),
          'data: [DONE]\n\n',
        ],
        { 'X-Modelbar-Backend': 'groq', 'X-Modelbar-Fallback-From': 'openai' },
      );
    });
    const c = createClient({
      window: { location: { origin: 'http://127.0.0.1:1' } },
      fetch: fetchFn as unknown as typeof fetch,
    });
    const seen: string[] = [];
    const clock = () => (t += 100);
    const done = await streamChat(c, { model: 'fast', messages: [{ role: 'user', content: 'hi' }] }, (p: ChatProgress) => seen.push(p.content), undefined, clock);
    expect(fetchFn.mock.calls[0][0]).toBe('http://127.0.0.1:1/v1/chat/completions');
    expect(seen.slice(0, 2)).toEqual(['Hel', 'Hello']);
    expect(done.content).toBe('Hello');
    expect(done.backend).toBe('groq');
    expect(done.fallbackFrom).toBe('openai');
    expect(done.model).toBe('gpt-4o-mini');
    expect(done.finishReason).toBe('stop');
    expect(done.usage?.completion_tokens).toBe(3);
    expect(done.tokensPerSecond).not.toBeNull();
  });

  it('sends an inference key when given', async () => {
    const fetchFn = vi.fn(async () => sseResponse(['data: [DONE]\n\n']));
    const c = createClient({ window: { location: { origin: '' } }, fetch: fetchFn as unknown as typeof fetch });
    await streamChat(c, { model: 'm', messages: [], apiKey: 'mb-123' }, () => {});
    const init = (fetchFn.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer mb-123');
  });

  it('throws the error answer with the backend headers', async () => {
    const fetchFn = async () =>
      jsonResponse(503, { error: { message: 'every backend failed', type: 'api_error', param: null, code: null } }, { 'X-Modelbar-Backend': 'local' });
    const c = createClient({ window: { location: { origin: '' } }, fetch: fetchFn as unknown as typeof fetch });
    await expect(streamChat(c, { model: 'm', messages: [] }, () => {})).rejects.toMatchObject({
      status: 503,
      message: 'every backend failed',
      backend: 'local',
    });
  });

  it('throws an in-stream error event (a cut stream is not complete)', async () => {
    const fetchFn = async () =>
      sseResponse([chunk({ choices: [{ delta: { content: 'par' } }] }), chunk({ error: { message: 'upstream broke', type: 'api_error' } })]);
    const c = createClient({ window: { location: { origin: '' } }, fetch: fetchFn as unknown as typeof fetch });
    const seen: string[] = [];
    await expect(streamChat(c, { model: 'm', messages: [] }, (p) => seen.push(p.content))).rejects.toThrow('upstream broke');
    expect(seen).toEqual(['par']);
  });

  it('accepts a whole (non-stream) answer', async () => {
    const fetchFn = async () =>
      jsonResponse(200, { model: 'x', choices: [{ message: { content: 'whole' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1 } });
    const c = createClient({ window: { location: { origin: '' } }, fetch: fetchFn as unknown as typeof fetch });
    const p = await streamChat(c, { model: 'm', messages: [] }, () => {});
    expect(p.content).toBe('whole');
  });
});
