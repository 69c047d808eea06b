// State shared between screens: toasts, the provider list (the route
// editor's backend choices), the gateway's status (polled once, by the
// app, for every screen) and a request to open a provider's editor.

import { call } from './client';
import type { Provider, Status } from './api';

export interface Toast {
  id: number;
  kind: 'info' | 'ok' | 'error';
  text: string;
}

export const toasts: Toast[] = $state([]);
let nextToast = 1;

export function toast(text: string, kind: Toast['kind'] = 'info', ms = 3500) {
  const id = nextToast++;
  toasts.push({ id, kind, text });
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number) {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}

export const providers: { list: Provider[]; loaded: boolean } = $state({ list: [], loaded: false });

export async function refreshProviders(): Promise<Provider[]> {
  const list = await call<Provider[]>('GET', '/api/providers');
  providers.list = list ?? [];
  providers.loaded = true;
  return providers.list;
}

/**
 * The latest GET /api/status answer, and why the latest call failed ("" when
 * it did not). The app polls it; screens read it, and refresh it at once
 * after a change the status shows (a cooldown ended, a key set again).
 */
export const live: { status: Status | null; error: unknown } = $state({ status: null, error: null });

let asked = 0; // calls sent; an answer older than the newest one landed is dropped
let landed = 0;

/** Asks for the status now; rejects (and records the error) when the call fails. */
export async function refreshStatus(): Promise<Status> {
  const n = ++asked;
  try {
    const s = await call<Status>('GET', '/api/status');
    if (n > landed) {
      landed = n;
      live.status = s;
      live.error = null;
    }
    return s;
  } catch (e) {
    if (n > landed) {
      landed = n;
      live.error = e;
    }
    throw e;
  }
}

/**
 * Requests from one screen to another, each cleared by the screen that
 * acts on it: editProvider, a provider whose editor the Providers screen
 * should open (the problems banner's "Set the key"); addProvider, open the
 * Providers screen's "Add provider" dialog (the guide's first step);
 * returnTo, the screen to go back to once that dialog has added one (the
 * app clears it on any other navigation).
 */
export const pending: { editProvider: string; addProvider: boolean; returnTo: string } = $state({ editProvider: '', addProvider: false, returnTo: '' });

/** Shows a screen by its id (the app follows the address's #/id). */
export function navigate(id: string) {
  location.hash = '#/' + id;
}

/** Errors by form field, from an ApiError's param. */
export type FieldErrors = Record<string, string>;
