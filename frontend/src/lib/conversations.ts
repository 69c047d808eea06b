// The saved conversations (admin API /api/conversations).

import { ApiError, call } from './client';
import { titleFrom, type Msg } from './chat';

export interface ConversationSummary {
  id: string;
  title: string;
  models: string[];
  message_count: number;
  created_at: string;
  updated_at: string;
}

export interface Conversation extends ConversationSummary {
  messages: Msg[];
}

export interface ConversationInput {
  title?: string;
  models?: string[];
  messages?: Msg[];
}

export const listConversations = () => call<ConversationSummary[]>('GET', '/api/conversations');
export const getConversation = (id: string) => call<Conversation>('GET', '/api/conversations/' + encodeURIComponent(id));
export const createConversation = (c: ConversationInput) => call<Conversation>('POST', '/api/conversations', c);
export const updateConversation = (id: string, c: ConversationInput) => call<Conversation>('PUT', '/api/conversations/' + encodeURIComponent(id), c);
export const deleteConversation = (id: string) => call<void>('DELETE', '/api/conversations/' + encodeURIComponent(id));

/**
 * Saves one conversation's changes in order, creating it on the first
 * save (titled after its first question unless a title is given). Each
 * save sends the state given to it; a save that fails is reported and the
 * next one carries the newer state anyway.
 */
export class ConversationSaver {
  id: string | null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly onError: (e: unknown) => void;
  private readonly onCreated: (id: string) => void;

  constructor(id: string | null, onCreated: (id: string) => void, onError: (e: unknown) => void) {
    this.id = id;
    this.onCreated = onCreated;
    this.onError = onError;
  }

  /** Queues a save of c; resolves when it (and those before it) are done. */
  save(c: ConversationInput): Promise<void> {
    const next = this.queue.then(async () => {
      if (this.id) {
        try {
          await updateConversation(this.id, c);
          return;
        } catch (e) {
          // Deleted elsewhere (another window) while open here: what is on
          // screen is saved anew rather than lost.
          if (!(e instanceof ApiError && e.status === 404)) throw e;
          this.id = null;
        }
      }
      const created = await createConversation({ title: titleFrom(c.messages ?? []), ...c });
      this.id = created.id;
      this.onCreated(created.id);
    });
    this.queue = next.catch((e) => this.onError(e));
    return this.queue.then(() => {});
  }
}
