// The chat's subscription to the change feed (GET /api/events): attempts of
// its requests in flight and changes to the saved conversations.
//
// A stand-in: the app-wide subscription (lib/live.ts, onTopics) is being
// written alongside; once it is in, onTopics below becomes a re-export of
// it and nothing else in the chat changes. Until then, a browser opens its
// own EventSource (the session cookie authenticates it); the desktop
// window, whose admin calls go through the Wails binding, has no feed here
// and the chat simply shows no retry state there.

import { client } from './client';

/** One event of GET /api/events. */
export interface LiveEvent {
  seq: number;
  topic: string;
  time: string;
  data?: unknown;
}

/** Calls f with every event of topics (and resync) until the returned function is called. */
export function onTopics(topics: string[], f: (ev: LiveEvent) => void): () => void {
  if (client().kind !== 'http' || typeof EventSource === 'undefined') return () => {};
  const es = new EventSource('/api/events?topics=' + encodeURIComponent(topics.join(',')));
  const handle = (e: MessageEvent) => {
    try {
      f(JSON.parse(e.data) as LiveEvent);
    } catch {
      // a malformed event: ignore it
    }
  };
  for (const t of [...topics, 'resync']) es.addEventListener(t, handle as EventListener);
  return () => es.close();
}
