import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLive, DEBOUNCE_MS, EVENTS_URL, FIRST_BACKOFF_MS, Live, MAX_BACKOFF_MS, WINDOW_EVENT, type Connection, type EventSourceLike } from './live';

/** A fake EventSource the test drives: hello, named events, errors. */
class FakeSource implements EventSourceLike {
  static all: FakeSource[] = [];
  readonly url: string;
  readonly listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  onerror: ((ev: Event) => void) | null = null;
  closed = false;

  constructor(url: string) {
    this.url = url;
    FakeSource.all.push(this);
  }

  static get last(): FakeSource {
    return FakeSource.all[FakeSource.all.length - 1];
  }

  addEventListener(type: string, l: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }

  close() {
    this.closed = true;
  }

  /** The server sends `event: topic` with the event JSON as data. */
  send(topic: string, seq = 1, data?: unknown) {
    const m = { data: JSON.stringify({ seq, topic, time: '2026-12-07T00:00:00Z', data }) } as MessageEvent;
    for (const l of this.listeners.get(topic) ?? []) l(m);
  }

  hello() {
    this.send('hello', 0);
  }

  fail() {
    this.onerror?.(new Event('error'));
  }
}

function browserLive() {
  return new Live({ eventSource: (url) => new FakeSource(url) });
}

/** A refresh that counts its calls; async, as a screen's load is. */
function counter() {
  const f = vi.fn(async () => {});
  return f;
}

beforeEach(() => {
  FakeSource.all = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Live in a browser', () => {
  it('opens one EventSource on /api/events for every subscriber, and closes it when the last leaves', () => {
    const l = browserLive();
    const offA = l.onTopics(['routes'], counter());
    const offB = l.onTopics(['models'], counter());
    expect(FakeSource.all.map((s) => s.url)).toEqual([EVENTS_URL]);
    offA();
    expect(FakeSource.last.closed).toBe(false);
    offB();
    expect(FakeSource.last.closed).toBe(true);
  });

  it('refreshes a subscriber on its topics only, after the debounce', async () => {
    const l = browserLive();
    const routes = counter();
    const models = counter();
    l.onTopics(['routes', 'providers'], routes);
    l.onTopics(['models'], models);
    const src = FakeSource.last;
    src.hello();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS); // the refresh of views that subscribed before the feed opened
    routes.mockClear();
    models.mockClear();

    src.send('providers');
    expect(routes).not.toHaveBeenCalled(); // not before the debounce
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(routes).toHaveBeenCalledTimes(1);
    expect(models).not.toHaveBeenCalled();
    src.send('requests'); // nobody's topic
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(routes).toHaveBeenCalledTimes(1);
    expect(models).not.toHaveBeenCalled();
  });

  it('gathers a burst into one refresh', async () => {
    const l = browserLive();
    const f = counter();
    l.onTopics(['requests'], f);
    const src = FakeSource.last;
    src.hello();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    f.mockClear();
    for (let i = 0; i < 20; i++) src.send('requests', i + 1);
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(1);
  });

  it('runs one refresh at a time, and one more for events that came during it', async () => {
    const l = browserLive();
    let finish: () => void = () => {};
    const f = vi.fn(() => new Promise<void>((r) => (finish = r)));
    l.onTopics(['routes'], f);
    const src = FakeSource.last;
    src.hello();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(1); // in flight
    src.send('routes');
    src.send('routes');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS * 3);
    expect(f).toHaveBeenCalledTimes(1); // still waiting for the first
    finish();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(2); // one more, for both events
    finish();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS * 3);
    expect(f).toHaveBeenCalledTimes(2);
  });

  it('a refresh that throws does not stop later ones', async () => {
    const l = browserLive();
    const f = vi.fn(async () => {
      throw new Error('boom');
    });
    l.onTopics(['routes'], f);
    FakeSource.last.hello();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    FakeSource.last.send('routes');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(2);
  });

  it('refreshes every subscriber on resync', async () => {
    const l = browserLive();
    const a = counter();
    const b = counter();
    l.onTopics(['routes'], a);
    l.onTopics(['models'], b);
    FakeSource.last.hello();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    a.mockClear();
    b.mockClear();
    FakeSource.last.send('resync');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
  });

  it('does not refresh a view that subscribed while the feed was open until something changes', async () => {
    const l = browserLive();
    l.onTopics(['settings'], counter());
    FakeSource.last.hello();
    const late = counter();
    l.onTopics(['routes'], late); // its own load covers now
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS * 5);
    expect(late).not.toHaveBeenCalled();
    FakeSource.last.send('routes');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(late).toHaveBeenCalledTimes(1);
  });

  it('reconnects after an error with a growing delay, and every view refreshes once it is back', async () => {
    const l = browserLive();
    const states: Connection[] = [];
    l.onConnection((c) => states.push(c));
    const f = counter();
    l.onTopics(['routes'], f);
    FakeSource.last.hello();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    f.mockClear();

    FakeSource.last.fail();
    expect(FakeSource.last.closed).toBe(true);
    expect(l.connection).toBe('down');
    await vi.advanceTimersByTimeAsync(FIRST_BACKOFF_MS - 1);
    expect(FakeSource.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSource.all).toHaveLength(2); // the first retry
    expect(l.connection).toBe('connecting');
    FakeSource.last.fail();
    await vi.advanceTimersByTimeAsync(FIRST_BACKOFF_MS * 2 - 1);
    expect(FakeSource.all).toHaveLength(2); // the second waits twice as long
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSource.all).toHaveLength(3);
    expect(f).not.toHaveBeenCalled();

    FakeSource.last.hello();
    expect(l.connection).toBe('open');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(1); // resync after the gap
    expect(states).toEqual(['connecting', 'open', 'down', 'connecting', 'down', 'connecting', 'open']);

    // Back to the first delay once it was open again; and events still flow
    // on the new stream (its listeners were added again).
    FakeSource.last.send('routes');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(2);
    FakeSource.last.fail();
    await vi.advanceTimersByTimeAsync(FIRST_BACKOFF_MS);
    expect(FakeSource.all).toHaveLength(4);
  });

  it('waits at most MAX_BACKOFF_MS between retries', async () => {
    const l = browserLive();
    l.onTopics(['routes'], counter());
    for (let i = 0; i < 12; i++) {
      FakeSource.last.fail();
      await vi.advanceTimersByTimeAsync(MAX_BACKOFF_MS);
    }
    const n = FakeSource.all.length;
    expect(n).toBe(13);
    FakeSource.last.fail();
    await vi.advanceTimersByTimeAsync(MAX_BACKOFF_MS);
    expect(FakeSource.all).toHaveLength(n + 1);
  });

  it('reconnect() retries a stream that is down at once', async () => {
    const l = browserLive();
    l.onTopics(['routes'], counter());
    FakeSource.last.fail();
    l.reconnect();
    expect(FakeSource.all).toHaveLength(2);
    l.reconnect(); // connecting, not down: nothing
    expect(FakeSource.all).toHaveLength(2);
  });

  it('listens to a topic a later subscriber asks for', async () => {
    const l = browserLive();
    l.onTopics(['routes'], counter());
    FakeSource.last.hello();
    const f = counter();
    l.onTopics(['downloads'], f);
    FakeSource.last.send('downloads');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(1);
  });

  it('ignores an old stream after a reconnect', async () => {
    const l = browserLive();
    const f = counter();
    l.onTopics(['routes'], f);
    const old = FakeSource.last;
    old.hello();
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    old.fail();
    await vi.advanceTimersByTimeAsync(FIRST_BACKOFF_MS);
    f.mockClear();
    old.send('routes');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).not.toHaveBeenCalled();
  });

  it('is down for good without EventSource', () => {
    const l = new Live({});
    const states: Connection[] = [];
    l.onConnection((c) => states.push(c));
    expect(states).toEqual(['connecting', 'down']);
  });
});

describe('Live in the Wails window', () => {
  function fakeRuntime() {
    const handlers = new Map<string, (...d: unknown[]) => void>();
    const off = vi.fn();
    return {
      handlers,
      off,
      runtime: {
        EventsOn: vi.fn((name: string, cb: (...d: unknown[]) => void) => {
          handlers.set(name, cb);
          return off;
        }),
      },
      emit(topic: string) {
        handlers.get(WINDOW_EVENT)?.({ seq: 1, topic, time: '' });
      },
    };
  }

  it('follows the runtime event the Go side forwards, open at once', async () => {
    const rt = fakeRuntime();
    const l = new Live({ runtime: rt.runtime, eventSource: (u) => new FakeSource(u) });
    const f = counter();
    const off = l.onTopics(['routes'], f);
    expect(l.connection).toBe('open');
    expect(FakeSource.all).toHaveLength(0);
    expect(rt.runtime.EventsOn).toHaveBeenCalledWith(WINDOW_EVENT, expect.any(Function));
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).not.toHaveBeenCalled(); // nothing was missed in process
    rt.emit('routes');
    rt.emit('models');
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS);
    expect(f).toHaveBeenCalledTimes(1);
    off();
    expect(rt.off).toHaveBeenCalled();
  });

  it('createLive picks the runtime in the window and EventSource in a browser', async () => {
    const rt = fakeRuntime();
    const inWindow = createLive({ runtime: rt.runtime, go: { main: { App: { Call: async () => ({ status: 200, body: '' }) } } } });
    inWindow.onTopics(['routes'], counter());
    expect(rt.runtime.EventsOn).toHaveBeenCalled();

    const inBrowser = createLive({ EventSource: FakeSource as unknown as typeof EventSource });
    inBrowser.onTopics(['routes'], counter());
    expect(FakeSource.last.url).toBe(EVENTS_URL);
  });
});

describe('onEvents', () => {
  it('hands each event of its topics, with its data, at once, and keeps the feed open while it listens', () => {
    const l = browserLive();
    const got: unknown[] = [];
    const off = l.onEvents(['attempts'], (ev) => got.push(ev.data));
    const src = FakeSource.last;
    expect(src.url).toBe(EVENTS_URL);
    src.hello();
    src.send('attempts', 1, { client_request_id: 'a', action: 'retry' });
    src.send('routes', 2);
    src.send('attempts', 3, { client_request_id: 'b', action: 'failover' });
    expect(got).toEqual([{ client_request_id: 'a', action: 'retry' }, { client_request_id: 'b', action: 'failover' }]); // no debounce, no other topic
    off();
    expect(src.closed).toBe(true);
  });

  it('listens on a stream reopened after an error, and in the Wails window', async () => {
    const l = browserLive();
    const got: string[] = [];
    l.onEvents(['attempts'], (ev) => got.push(ev.topic + ev.seq));
    FakeSource.last.fail();
    await vi.advanceTimersByTimeAsync(FIRST_BACKOFF_MS);
    FakeSource.last.send('attempts', 7);
    expect(got).toEqual(['attempts7']);

    const handlers = new Map<string, (...d: unknown[]) => void>();
    const w = new Live({ runtime: { EventsOn: (name: string, cb: (...d: unknown[]) => void) => void handlers.set(name, cb) } });
    const inWindow: unknown[] = [];
    w.onEvents(['attempts'], (ev) => inWindow.push(ev.data));
    handlers.get(WINDOW_EVENT)?.({ seq: 1, topic: 'attempts', time: '', data: { action: 'give_up' } });
    expect(inWindow).toEqual([{ action: 'give_up' }]);
  });
});
