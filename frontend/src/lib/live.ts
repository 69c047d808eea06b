// The app's one subscription to the server's change feed, so every screen
// shows a change made anywhere (this window, another one, the menu-bar
// menu, a script through the API) within a moment, without polling.
//
// Two transports, as for admin calls (client.ts):
//   - in a browser, an EventSource on GET /api/events (same origin: the
//     session cookie goes with it). It is reopened after an error with a
//     growing delay (backoff), since a 401 or a restarted server ends an
//     EventSource for good;
//   - in the Wails desktop window, which calls the admin API in process and
//     has no HTTP session, the Go side forwards the same events as the
//     runtime event "modelbar:event" (backend/desktop/forward.go).
//
// An event only names what changed: a screen subscribes to the topics it
// shows with onTopics(topics, load) and re-reads the API when they change.
// Events can be lost (the stream was down, or the server dropped a slow
// reader's backlog and sent "resync"): then every subscriber refreshes.

/** One event of GET /api/events (backend/events.Event). */
export interface LiveEvent {
  seq: number;
  topic: string;
  time: string;
  data?: unknown;
}

/** The feed's state: opening, open, or failed and waiting to retry. */
export type Connection = 'connecting' | 'open' | 'down';

/** The part of EventSource the feed uses. */
export interface EventSourceLike {
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
  onerror: ((ev: Event) => void) | null;
}

/** window.runtime of the Wails window, as far as the feed uses it. */
export interface WailsRuntime {
  EventsOn(name: string, callback: (...data: unknown[]) => void): (() => void) | void;
  EventsOff?(name: string, ...more: string[]): void;
}

declare global {
  interface Window {
    runtime?: Partial<WailsRuntime>;
  }
}

/** Where the feed runs; the defaults are the page's own globals. */
export interface LiveEnv {
  /** Opens an EventSource on url; absent in the Wails window. */
  eventSource?: (url: string) => EventSourceLike;
  /** The Wails runtime; when it is there it wins. */
  runtime?: WailsRuntime;
  setTimeout?: (f: () => void, ms: number) => unknown;
  clearTimeout?: (t: unknown) => void;
  /** How long a subscriber's burst of events is gathered into one refresh. */
  debounceMs?: number;
}

/** The Wails runtime event the desktop app forwards the feed under. */
export const WINDOW_EVENT = 'modelbar:event';
/** The feed's URL in a browser. */
export const EVENTS_URL = '/api/events';
/** The first wait before reopening a failed stream, doubled up to MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 500;
export const MAX_BACKOFF_MS = 15_000;
export const DEBOUNCE_MS = 100;

interface Subscriber {
  topics: Set<string>;
  refresh: () => unknown;
  timer: unknown; // a refresh is due (debounce)
  running: boolean; // a refresh is in flight
  again: boolean; // another event came during it
  synced: boolean; // registered while the feed was open: nothing was missed
}

/**
 * The change feed. Start is lazy: the first subscriber (onTopics or
 * onConnection) opens it, the last one to leave closes it.
 */
export class Live {
  private readonly env: Required<Pick<LiveEnv, 'setTimeout' | 'clearTimeout' | 'debounceMs'>> & LiveEnv;
  private readonly subs = new Set<Subscriber>();
  private readonly watchers = new Set<(c: Connection) => void>();
  private readonly listeners = new Set<{ topics: Set<string>; f: (ev: LiveEvent) => void }>(); // onEvents'
  private state: Connection = 'connecting';
  private source: EventSourceLike | null = null;
  private offRuntime: (() => void) | null = null;
  private listened = new Set<string>(); // topics with a listener on source
  private retryTimer: unknown = null;
  private backoff = FIRST_BACKOFF_MS;
  private wasOpen = false; // opened before: the next open is a reconnect
  private running = false;

  constructor(env: LiveEnv) {
    this.env = {
      setTimeout: (f, ms) => setTimeout(f, ms),
      clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      debounceMs: DEBOUNCE_MS,
      ...env,
    };
  }

  /** The feed's state now. */
  get connection(): Connection {
    return this.state;
  }

  /**
   * Calls refresh (debounced, one call in flight at a time) when an event
   * of one of topics arrives, and after the feed was down or told to
   * resync. Returns the unsubscribe: `onMount(() => onTopics([...], load))`.
   */
  onTopics(topics: string[], refresh: () => unknown): () => void {
    const sub: Subscriber = { topics: new Set(topics), refresh, timer: null, running: false, again: false, synced: this.state === 'open' };
    this.subs.add(sub);
    for (const t of topics) this.listen(t);
    this.start();
    return () => {
      if (sub.timer !== null) this.env.clearTimeout(sub.timer);
      sub.timer = null;
      this.subs.delete(sub);
      this.stopIfUnused();
    };
  }

  /**
   * Calls f with every event of topics as it arrives, its payload
   * included, undebounced: for a view that follows something in flight
   * (the chat, its request's attempts) rather than re-reading a list. A
   * lost event is not replayed. Returns the unsubscribe.
   */
  onEvents(topics: string[], f: (ev: LiveEvent) => void): () => void {
    const l = { topics: new Set(topics), f };
    this.listeners.add(l);
    for (const t of topics) this.listen(t);
    this.start();
    return () => {
      this.listeners.delete(l);
      this.stopIfUnused();
    };
  }

  /** Calls f with the feed's state now and at every change; returns the unsubscribe. */
  onConnection(f: (c: Connection) => void): () => void {
    f(this.state);
    this.watchers.add(f);
    this.start();
    return () => {
      this.watchers.delete(f);
      this.stopIfUnused();
    };
  }

  /** Reopens a stream that is down now, instead of after its backoff (e.g. after signing in). */
  reconnect() {
    if (!this.running || this.state !== 'down' || !this.env.eventSource || this.env.runtime) return;
    if (this.retryTimer !== null) this.env.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.backoff = FIRST_BACKOFF_MS;
    this.open();
  }

  private start() {
    if (this.running) return;
    this.running = true;
    if (this.env.runtime) {
      // In process: nothing to lose between start and now, nothing to reconnect.
      const rt = this.env.runtime;
      const off = rt.EventsOn(WINDOW_EVENT, (ev) => this.deliver(ev as LiveEvent));
      this.offRuntime = typeof off === 'function' ? off : () => rt.EventsOff?.(WINDOW_EVENT);
      this.wasOpen = true;
      this.setState('open');
      for (const s of this.subs) s.synced = true;
      return;
    }
    this.open();
  }

  private stopIfUnused() {
    if (this.subs.size || this.watchers.size || this.listeners.size || !this.running) return;
    this.running = false;
    this.offRuntime?.();
    this.offRuntime = null;
    this.closeSource();
    if (this.retryTimer !== null) this.env.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.wasOpen = false;
    this.backoff = FIRST_BACKOFF_MS;
    this.state = 'connecting';
  }

  private open() {
    const make = this.env.eventSource;
    if (!make) {
      this.setState('down'); // no way to follow changes: the app polls
      return;
    }
    this.setState('connecting');
    const src = make(EVENTS_URL);
    this.source = src;
    this.listened = new Set();
    src.addEventListener('hello', () => this.opened());
    for (const s of this.subs) for (const t of s.topics) this.listen(t);
    for (const l of this.listeners) for (const t of l.topics) this.listen(t);
    this.listen('resync');
    src.onerror = () => {
      if (this.source !== src) return;
      this.failed();
    };
  }

  /** Adds a listener for topic on the open EventSource (named SSE events reach only their listeners). */
  private listen(topic: string) {
    const src = this.source;
    if (!src || this.listened.has(topic)) return;
    this.listened.add(topic);
    src.addEventListener(topic, (m: MessageEvent) => {
      if (this.source !== src) return;
      let ev: LiveEvent;
      try {
        ev = JSON.parse(String(m.data)) as LiveEvent;
      } catch {
        ev = { seq: 0, topic, time: '' };
      }
      this.deliver({ ...ev, topic });
    });
  }

  private opened() {
    this.backoff = FIRST_BACKOFF_MS;
    const reconnect = this.wasOpen;
    this.wasOpen = true;
    this.setState('open');
    // After a gap every view may be stale; a view that subscribed before
    // the feed opened may have missed what changed meanwhile.
    for (const s of this.subs) {
      if (reconnect || !s.synced) this.schedule(s);
      s.synced = true;
    }
  }

  private failed() {
    this.closeSource();
    this.setState('down');
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.retryTimer = this.env.setTimeout(() => {
      this.retryTimer = null;
      if (this.running) this.open();
    }, wait);
  }

  private closeSource() {
    if (!this.source) return;
    this.source.onerror = null;
    this.source.close();
    this.source = null;
  }

  private setState(c: Connection) {
    if (this.state === c) return;
    this.state = c;
    for (const f of [...this.watchers]) f(c);
  }

  private deliver(ev: LiveEvent) {
    if (!ev || typeof ev.topic !== 'string') return;
    const all = ev.topic === 'resync';
    for (const s of this.subs) if (all || s.topics.has(ev.topic)) this.schedule(s);
    for (const l of [...this.listeners]) if (l.topics.has(ev.topic)) l.f(ev);
  }

  /** A refresh within debounceMs of the first event of a burst; one at a time. */
  private schedule(s: Subscriber) {
    if (s.running) {
      s.again = true;
      return;
    }
    if (s.timer !== null) return;
    s.timer = this.env.setTimeout(() => {
      s.timer = null;
      this.run(s);
    }, this.env.debounceMs);
  }

  private async run(s: Subscriber) {
    if (!this.subs.has(s)) return;
    s.running = true;
    try {
      await s.refresh();
    } catch {
      // the screen shows its own error
    } finally {
      s.running = false;
      if (s.again) {
        s.again = false;
        this.schedule(s);
      }
    }
  }
}

/** The page's feed: the Wails runtime in the desktop window, else an EventSource. */
export function createLive(win: (Pick<Window, 'runtime' | 'go'> & { EventSource?: typeof EventSource }) | undefined = typeof window !== 'undefined' ? window : undefined): Live {
  const rt = win?.runtime;
  const inWails = !!win?.go?.main?.App && typeof rt?.EventsOn === 'function';
  if (inWails) return new Live({ runtime: rt as WailsRuntime });
  const ES = win?.EventSource;
  return new Live({ eventSource: ES ? (url) => new ES(url) : undefined });
}

let shared: Live | null = null;

/** The page's feed, created on first use. */
export function feed(): Live {
  return (shared ??= createLive());
}

/** Shorthand for feed().onTopics: `onMount(() => onTopics(['routes'], load))`. */
export function onTopics(topics: string[], refresh: () => unknown): () => void {
  return feed().onTopics(topics, refresh);
}

/** Shorthand for feed().onEvents: each event of topics, with its data, as it comes. */
export function onEvents(topics: string[], f: (ev: LiveEvent) => void): () => void {
  return feed().onEvents(topics, f);
}

/** Shorthand for feed().onConnection. */
export function onConnection(f: (c: Connection) => void): () => void {
  return feed().onConnection(f);
}
