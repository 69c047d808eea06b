// @vitest-environment jsdom
// The chat's states, with a fake gateway behind fetch (SSE streams through
// the real client) and a fake EventSource for the attempts events.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, waitFor, within } from '@testing-library/svelte';
import Chat from './Chat.svelte';

type Handler = (req: { url: URL; init: RequestInit; body: Record<string, unknown> }) => Response | Promise<Response>;

const enc = new TextEncoder();

/** An SSE response whose events are sent as the test releases them. */
function sse(events: unknown[], opts: { signal?: AbortSignal | null; hold?: Promise<void>; holdForever?: boolean; headers?: Record<string, string> } = {}) {
  const body = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      opts.signal?.addEventListener('abort', () => ctrl.error(new DOMException('The user aborted a request.', 'AbortError')));
      for (const [i, e] of events.entries()) {
        if (opts.signal?.aborted) return;
        ctrl.enqueue(enc.encode(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`));
        if (i === 0 && opts.hold) await opts.hold;
        await new Promise((r) => setTimeout(r, 1));
      }
      if (opts.holdForever) return; // until aborted
      ctrl.enqueue(enc.encode('data: [DONE]\n\n'));
      ctrl.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream', 'X-Modelbar-Backend': 'fake', ...opts.headers } });
}

const delta = (d: Record<string, unknown>, finish: string | null = null) => ({ model: 'm', choices: [{ index: 0, delta: d, finish_reason: finish }] });
const usage = (n: number) => ({ model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: n, total_tokens: 5 + n } });

class FakeEventSource {
  static last: FakeEventSource | null = null;
  url: string;
  listeners: Record<string, ((e: MessageEvent) => void)[]> = {};
  closed = false;
  constructor(url: string) {
    this.url = url;
    FakeEventSource.last = this;
  }
  addEventListener(t: string, f: (e: MessageEvent) => void) {
    (this.listeners[t] ??= []).push(f);
  }
  close() {
    this.closed = true;
  }
  emit(topic: string, data: unknown) {
    for (const f of this.listeners[topic] ?? []) f(new MessageEvent(topic, { data: JSON.stringify({ seq: 1, topic, time: '', data }) }));
  }
}

let chat: Handler;
let saved: Record<string, { id: string; title: string; models: string[]; messages: unknown[]; updated_at: string }>;
let calls: { method: string; path: string; body: Record<string, unknown>; headers: Record<string, string> }[];

function json(status: number, v: unknown) {
  return new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json' } });
}

async function fakeFetch(input: string, init: RequestInit = {}) {
  const url = new URL(input, 'http://localhost:3000');
  const method = (init.method ?? 'GET').toUpperCase();
  const body = init.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
  calls.push({ method, path: url.pathname, body, headers: (init.headers ?? {}) as Record<string, string> });
  if (url.pathname === '/v1/models') return json(200, { data: [{ id: 'fast' }, { id: 'other' }] });
  if (url.pathname === '/v1/chat/completions') return chat({ url, init, body });
  if (url.pathname === '/api/conversations' && method === 'GET') {
    return json(200, Object.values(saved).map(({ messages, ...s }) => ({ ...s, message_count: messages.length, created_at: s.updated_at })));
  }
  if (url.pathname === '/api/conversations' && method === 'POST') {
    const id = 'conv_' + (Object.keys(saved).length + 1);
    saved[id] = { id, title: String(body.title ?? ''), models: (body.models as string[]) ?? [], messages: (body.messages as unknown[]) ?? [], updated_at: new Date().toISOString() };
    return json(201, saved[id]);
  }
  const m = /^\/api\/conversations\/(.+)$/.exec(url.pathname);
  if (m) {
    const c = saved[m[1]];
    if (!c) return json(404, { error: { message: 'conversation not found', type: 'not_found_error' } });
    if (method === 'PUT') Object.assign(c, body);
    if (method === 'DELETE') {
      delete saved[m[1]];
      return new Response(null, { status: 204 });
    }
    return json(200, { ...c, message_count: c.messages.length });
  }
  return json(404, { error: { message: 'unknown URL', type: 'not_found_error' } });
}

function chatCalls() {
  return calls.filter((c) => c.path === '/v1/chat/completions');
}

async function ask(utils: { getByTestId: (id: string) => HTMLElement }, text: string) {
  const input = utils.getByTestId('chat-input') as HTMLTextAreaElement;
  await fireEvent.input(input, { target: { value: text } });
  await fireEvent.keyDown(input, { key: 'Enter' });
}

beforeEach(() => {
  saved = {};
  calls = [];
  localStorage.clear();
  sessionStorage.clear();
  sessionStorage.setItem('modelbar-chat-model', 'fast');
  vi.stubGlobal('fetch', vi.fn(fakeFetch));
  vi.stubGlobal('EventSource', FakeEventSource);
  Object.defineProperty(navigator, 'clipboard', { value: { writeText: vi.fn().mockResolvedValue(undefined) }, configurable: true });
  Element.prototype.scrollTo = () => {};
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('Chat', () => {
  it('streams markdown with reasoning, shows speed and first-token time, and saves the conversation', async () => {
    chat = ({ init }) =>
      sse(
        [
          delta({ role: 'assistant', reasoning_content: 'Thinking about ' }),
          delta({ reasoning: 'tables.' }),
          delta({ content: '# Result\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n' }),
          delta({ content: '```js\nconst x = 1;\n```\n' }),
          delta({}, 'stop'),
          usage(12),
        ],
        { signal: init.signal },
      );
    const utils = render(Chat);
    await ask(utils, 'Show me a table');
    const answer = await utils.findByTestId('chat-assistant');
    await waitFor(() => expect(answer.getAttribute('data-end')).toBe('done'));
    expect(answer.querySelector('h1')?.textContent).toBe('Result');
    expect(answer.querySelectorAll('table td')).toHaveLength(2);
    within(answer).getByRole('button', { name: 'Copy the js code' });
    const reasoning = within(answer).getByTestId('chat-reasoning');
    expect(reasoning.tagName).toBe('DETAILS');
    expect(reasoning.textContent).toContain('Thinking about tables.');
    expect(within(answer).getByTestId('chat-speed').textContent).toMatch(/^\d+\.\d tok\/s$/);
    expect(within(answer).getByTestId('chat-ttft').textContent).toMatch(/first token/);
    expect(within(answer).getByTestId('chat-backend').textContent).toBe('fake');

    // The request: the question, stream with usage, and the id the attempts events carry.
    const req = chatCalls()[0];
    expect(req.body.messages).toEqual([{ role: 'user', content: 'Show me a table' }]);
    expect(req.headers['X-Modelbar-Client-Request']).toMatch(/^chat_/);

    // Saved: created with a title from the question, then updated with the answer.
    await waitFor(() => expect(Object.values(saved)[0]?.messages).toHaveLength(2));
    const c = Object.values(saved)[0];
    expect(c.title).toBe('Show me a table');
    expect(c.models).toEqual(['fast']);
    const [, a] = c.messages as { role: string; content: string; end: string; streaming?: boolean; request_id?: string }[];
    expect(a).toMatchObject({ role: 'assistant', end: 'done' });
    expect(a.content).toContain('# Result');
    expect(a.streaming).toBeUndefined();
    expect(a.request_id).toBeUndefined();
    await waitFor(() => expect(utils.getAllByTestId('chat-conversation')).toHaveLength(1));
    expect(localStorage.getItem('modelbar-chat-conversation')).toBe(c.id);
  });

  it('shows a tool call as such, and sends its result back to continue', async () => {
    let n = 0;
    chat = ({ init }) =>
      ++n === 1
        ? sse(
            [
              delta({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
              delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
              delta({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
              delta({}, 'tool_calls'),
            ],
            { signal: init.signal },
          )
        : sse([delta({ content: 'It is sunny.' }), delta({}, 'stop')], { signal: init.signal });
    const utils = render(Chat);
    await ask(utils, 'Weather in Paris?');
    const call = await utils.findByTestId('chat-tool-call');
    await waitFor(() => expect(utils.getByTestId('chat-assistant').getAttribute('data-end')).toBe('done'));
    expect(within(call).getByTestId('chat-tool-name').textContent).toBe('get_weather');
    expect(within(call).getByTestId('chat-tool-args').textContent).toBe('{\n  "city": "Paris"\n}');
    expect(utils.getByTestId('chat-answer').textContent?.trim()).toBe('');

    const reply = await utils.findByTestId('chat-tool-reply');
    await fireEvent.input(within(reply).getByRole('textbox'), { target: { value: '{"sky":"clear"}' } });
    await fireEvent.click(within(reply).getByRole('button', { name: 'Send result of get_weather' }));
    await waitFor(() => expect(utils.getAllByTestId('chat-assistant')[1]?.getAttribute('data-end')).toBe('done'));
    expect(utils.getByTestId('chat-tool-result').textContent).toContain('{"sky":"clear"}');
    expect(chatCalls()[1].body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', content: '{"sky":"clear"}', tool_call_id: 'call_1' },
    ]);
    expect(utils.getAllByTestId('chat-answer')[1].textContent).toContain('It is sunny.');
    expect(utils.queryByTestId('chat-tool-reply')).toBeNull();
  });

  it('ends on Stop (and on Esc) neutrally, keeping what came', async () => {
    chat = ({ init }) => sse([delta({ content: 'Partial ' }), delta({ content: 'answer' })], { signal: init.signal, holdForever: true });
    const utils = render(Chat);
    await ask(utils, 'Go on');
    await waitFor(() => expect(utils.getByTestId('chat-answer').textContent).toContain('Partial answer'));
    await fireEvent.click(utils.getByTestId('chat-stop'));
    const a = utils.getByTestId('chat-assistant');
    await waitFor(() => expect(a.getAttribute('data-end')).toBe('stopped'));
    expect(utils.getByTestId('chat-stopped').textContent).toBe('Stopped.');
    expect(utils.queryByRole('alert')).toBeNull();
    expect(a.textContent).toContain('Partial answer');
    await utils.findByTestId('chat-send');

    // Esc in the composer stops too; a stopped answer stays in the history.
    await ask(utils, 'Again');
    await waitFor(() => expect(utils.getAllByTestId('chat-answer')[1].textContent).toContain('Partial'));
    await fireEvent.keyDown(utils.getByTestId('chat-input'), { key: 'Escape' });
    await waitFor(() => expect(utils.getAllByTestId('chat-assistant')[1].getAttribute('data-end')).toBe('stopped'));
    expect(chatCalls()[1].body.messages).toEqual([
      { role: 'user', content: 'Go on' },
      { role: 'assistant', content: 'Partial answer' },
      { role: 'user', content: 'Again' },
    ]);
  });

  it('keeps a stopped answer in its conversation when a new chat interrupts it', async () => {
    chat = ({ init }) => sse([delta({ content: 'Half an answer' })], { signal: init.signal, holdForever: true });
    const utils = render(Chat);
    await ask(utils, 'Long question');
    await waitFor(() => expect(utils.getByTestId('chat-answer').textContent).toContain('Half an answer'));
    await fireEvent.click(utils.getByTestId('chat-new'));
    expect(utils.queryByTestId('chat-user')).toBeNull();
    await waitFor(() => expect(Object.values(saved)[0]?.messages).toHaveLength(2));
    expect(Object.values(saved)[0].messages[1]).toMatchObject({ role: 'assistant', content: 'Half an answer', end: 'stopped' });
    expect(Object.values(saved)).toHaveLength(1); // the new chat is not saved until it has a message
  });

  it('shows the retry and the failover while the gateway works on it', async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    chat = ({ init }) => {
      // The answer begins only after the test has sent the attempts events.
      return hold.then(() => sse([delta({ content: 'Finally.' }), delta({}, 'stop')], { signal: init.signal, headers: { 'X-Modelbar-Backend': 'acme', 'X-Modelbar-Backend-Model': 'm-small', 'X-Modelbar-Fallback-From': 'acme' } }));
    };
    const utils = render(Chat);
    await waitFor(() => expect(FakeEventSource.last?.url).toBe('/api/events'));
    await ask(utils, 'Hello?');
    await waitFor(() => expect(chatCalls()).toHaveLength(1));
    const id = chatCalls()[0].headers['X-Modelbar-Client-Request'];
    const es = FakeEventSource.last!;
    expect(await utils.findByText(/waiting for the first token/)).toBeTruthy();
    es.emit('attempts', { client_request_id: 'someone-else', backend: 'x', model: 'm', status: 500, reason: 'HTTP 500', action: 'retry', next: 'x', delay_ms: 0 });
    es.emit('attempts', { client_request_id: id, backend: 'acme', model: 'm-large', status: 429, reason: 'HTTP 429', action: 'retry', next: 'acme', delay_ms: 1500 });
    expect((await utils.findByTestId('chat-attempt')).textContent).toBe('retrying m-large at acme (429)… in 1.5 s');
    // The wait counts down while it lasts (the screen's clock ticks every 200 ms).
    await waitFor(() => expect(utils.getByTestId('chat-attempt').textContent).toMatch(/^retrying m-large at acme \(429\)… in (1\.[0-3]|0\.\d) s$/), { timeout: 1500 });
    await waitFor(() => expect(utils.getByTestId('chat-attempt').textContent).toBe('retrying m-large at acme (429) now…'), { timeout: 2500 });
    es.emit('attempts', { client_request_id: id, backend: 'acme', model: 'm-large', status: 503, reason: 'HTTP 503', action: 'failover', next: 'acme', delay_ms: 0 });
    await waitFor(() => expect(utils.getByTestId('chat-attempt').textContent).toBe('m-large at acme failed (503): failing over to acme…'));
    release();
    await waitFor(() => expect(utils.getByTestId('chat-assistant').getAttribute('data-end')).toBe('done'));
    expect(utils.queryByTestId('chat-attempt')).toBeNull();
    // A failover between two models of one provider says which model answered.
    expect(utils.getByTestId('chat-fallback').textContent).toBe('m-large at acme failed (HTTP 503); answered by m-small at acme');
  });

  it('chats with no key (the session admits it) and keeps a test key in memory only', async () => {
    sessionStorage.setItem('modelbar-chat-key', 'mb-old'); // where an earlier version kept it
    chat = ({ init }) => sse([delta({ content: 'Hi.' }), delta({}, 'stop')], { signal: init.signal });
    const utils = render(Chat);
    expect(sessionStorage.getItem('modelbar-chat-key')).toBeNull();
    await ask(utils, 'One');
    await waitFor(() => expect(utils.getByTestId('chat-assistant').getAttribute('data-end')).toBe('done'));
    expect(chatCalls()[0].headers.Authorization).toBeUndefined();

    await fireEvent.click(utils.getByTestId('chat-options'));
    const key = utils.getByTestId('chat-key') as HTMLInputElement;
    expect(utils.getByText(/kept in memory only/)).toBeTruthy();
    await fireEvent.input(key, { target: { value: 'mb-secret' } });
    await ask(utils, 'Two');
    await waitFor(() => expect(chatCalls()).toHaveLength(2));
    expect(chatCalls()[1].headers.Authorization).toBe('Bearer mb-secret');
    expect(JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage })).not.toContain('mb-secret');
  });

  it('shows a failure as an error', async () => {
    chat = () => json(503, { error: { message: 'every backend failed', type: 'server_error' } });
    const utils = render(Chat);
    await ask(utils, 'Anyone?');
    const alert = await utils.findByRole('alert');
    expect(alert.textContent).toBe('503: every backend failed');
    expect(utils.getByTestId('chat-assistant').getAttribute('data-end')).toBe('error');
  });

  it('regenerates the last answer and resends an edited question', async () => {
    let n = 0;
    chat = ({ init }) => sse([delta({ content: `Answer ${++n}` }), delta({}, 'stop')], { signal: init.signal });
    const utils = render(Chat);
    await ask(utils, 'First');
    await waitFor(() => expect(utils.getByTestId('chat-answer').textContent).toContain('Answer 1'));
    await fireEvent.click(await utils.findByTestId('chat-regenerate'));
    await waitFor(() => expect(utils.getByTestId('chat-answer').textContent).toContain('Answer 2'));
    expect(utils.getAllByTestId('chat-assistant')).toHaveLength(1);
    expect(chatCalls()[1].body.messages).toEqual([{ role: 'user', content: 'First' }]);

    await fireEvent.click(await utils.findByTestId('chat-edit'));
    // The edit box takes the focus, the caret after the text, ready to type.
    const box = (await utils.findByTestId('chat-edit-input')) as HTMLTextAreaElement;
    await waitFor(() => expect(document.activeElement).toBe(box));
    expect(box.value).toBe('First');
    expect([box.selectionStart, box.selectionEnd]).toEqual([5, 5]);
    await fireEvent.input(utils.getByTestId('chat-edit-input'), { target: { value: 'First, edited' } });
    await fireEvent.click(utils.getByTestId('chat-edit-send'));
    await waitFor(() => expect(utils.getByTestId('chat-answer').textContent).toContain('Answer 3'));
    expect(utils.getAllByTestId('chat-user')).toHaveLength(1);
    expect(utils.getByTestId('chat-user').textContent).toContain('First, edited');
    expect(chatCalls()[2].body.messages).toEqual([{ role: 'user', content: 'First, edited' }]);

    // Per-message copy.
    await fireEvent.click(await within(utils.getByTestId('chat-assistant')).findByTestId('chat-copy'));
    expect(navigator.clipboard.writeText).toHaveBeenCalledWith('Answer 3');
  });

  it('compares two models side by side on the same prompt', async () => {
    chat = ({ init, body }) => sse([delta({ content: `I am ${body.model}` }), delta({}, 'stop')], { signal: init.signal });
    const utils = render(Chat);
    await fireEvent.click(utils.getByTestId('chat-compare'));
    await fireEvent.input(await utils.findByTestId('chat-model-b'), { target: { value: 'other' } });
    await ask(utils, 'Who are you?');
    await waitFor(() => expect(utils.getAllByTestId('chat-assistant').map((a) => a.getAttribute('data-end'))).toEqual(['done', 'done']));
    expect(utils.getByTestId('chat-lane-0').textContent).toContain('I am fast');
    expect(utils.getByTestId('chat-lane-1').textContent).toContain('I am other');
    expect(chatCalls().map((c) => c.body.model).sort()).toEqual(['fast', 'other']);
    await waitFor(() => expect(Object.values(saved)[0]?.models).toEqual(['fast', 'other']));
  });

  it('starts a new chat when Cmd/Ctrl+N came before the chat was shown', async () => {
    saved.conv_1 = { id: 'conv_1', title: 'Old', models: ['fast'], updated_at: new Date().toISOString(), messages: [{ id: 'u', role: 'user', content: 'Old question' }] };
    localStorage.setItem('modelbar-chat-conversation', 'conv_1');
    window.dispatchEvent(new CustomEvent('modelbar:new-chat'));
    const utils = render(Chat);
    await utils.findByText('Old'); // listed
    expect(utils.queryByTestId('chat-user')).toBeNull();
    expect(localStorage.getItem('modelbar-chat-conversation')).toBeNull();
  });

  it('opens the saved conversation after a reload, and starts a new one on modelbar:new-chat', async () => {
    saved.conv_9 = {
      id: 'conv_9', title: 'Old chat', models: ['fast'], updated_at: new Date().toISOString(),
      messages: [
        { id: 'system', role: 'system', content: 'Answer in French.' },
        { id: 'u', role: 'user', content: 'Earlier question' },
        { id: 'a', role: 'assistant', content: '**Earlier** answer', end: 'done', lane: 0 },
      ],
    };
    localStorage.setItem('modelbar-chat-conversation', 'conv_9');
    const utils = render(Chat);
    await waitFor(() => expect(utils.getByTestId('chat-answer').querySelector('strong')?.textContent).toBe('Earlier'));
    expect(utils.getByTestId('chat-user').textContent).toContain('Earlier question');
    // The system prompt came back into Options, and goes with the next question.
    await fireEvent.click(utils.getByTestId('chat-options'));
    expect((utils.container.querySelector('#chat-system') as HTMLTextAreaElement).value).toBe('Answer in French.');
    chat = ({ init }) => sse([delta({ content: 'Oui.' }), delta({}, 'stop')], { signal: init.signal });
    await ask(utils, 'And now?');
    await waitFor(() => expect(utils.getAllByTestId('chat-assistant')[1]?.getAttribute('data-end')).toBe('done'));
    expect(chatCalls()[0].body.messages).toEqual([
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'Earlier question' },
      { role: 'assistant', content: '**Earlier** answer' },
      { role: 'user', content: 'And now?' },
    ]);
    await waitFor(() => expect(saved.conv_9.messages).toHaveLength(5));
    expect(saved.conv_9.messages[0]).toMatchObject({ role: 'system', content: 'Answer in French.' });
    window.dispatchEvent(new CustomEvent('modelbar:new-chat'));
    await waitFor(() => expect(utils.queryByTestId('chat-user')).toBeNull());
    expect(localStorage.getItem('modelbar-chat-conversation')).toBeNull();
    // Open it again from the list, then delete it there.
    await fireEvent.click(await utils.findByText('Old chat'));
    await utils.findByText('Earlier question');
    await fireEvent.click(utils.getByTestId('chat-rename'));
    await fireEvent.input(utils.getByTestId('chat-rename-input'), { target: { value: 'Renamed chat' } });
    await fireEvent.submit(utils.getByTestId('chat-rename-input').closest('form')!);
    await waitFor(() => expect(saved.conv_9.title).toBe('Renamed chat'));
    await waitFor(() => utils.getByRole('button', { name: 'Delete conversation Renamed chat' }));
    const del = utils.getByRole('button', { name: 'Delete conversation Renamed chat' });
    await fireEvent.click(del);
    await fireEvent.click(del); // confirm
    await waitFor(() => expect(saved.conv_9).toBeUndefined());
    await waitFor(() => expect(utils.queryByTestId('chat-user')).toBeNull());
  });
});
