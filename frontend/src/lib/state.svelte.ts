// State shared between screens: toasts and the provider list (the route
// editor's backend choices).

import { call } from './client';
import type { Provider } from './api';

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

/** Errors by form field, from an ApiError's param. */
export type FieldErrors = Record<string, string>;
