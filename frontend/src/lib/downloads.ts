// The Discover tab's model of the Hugging Face Hub and of downloads, as the
// admin API serves them (GET /api/hub/search, GET /api/hub/models/{repo},
// /api/downloads and the `downloads` events). Pure functions, so the tab's
// wording and the way it folds events into its list are tested apart from
// the component.

import { ApiError } from './client';
import { bytes, duration } from './format';

/** One search result (GET /api/hub/search). */
export interface HubModelSummary {
  repo: string;
  downloads: number;
  likes: number;
  updated: string;
  gated: boolean;
  params?: string;
  quantization?: string;
}

export interface HubFile {
  path: string;
  size: number;
}

/** A repo's facts (GET /api/hub/models/{repo}): files, what running it needs, and whether this machine can. */
export interface HubModel {
  repo: string;
  revision: string;
  commit: string;
  files: HubFile[] | null;
  total_bytes: number;
  architecture: string;
  quantization: string;
  params: string;
  context_length: number;
  /** The engine's own check on config.json. */
  supported: boolean;
  reason: string;
  fits: boolean;
  /** Weights plus the KV allowance. */
  needed_bytes: number;
  kv_allowance_bytes: number;
  budget_bytes: number;
  /** Where the cache is; -1 when unknown. */
  free_disk_bytes: number;
  downloaded: boolean;
  gated: boolean;
}

export type DownloadState = 'queued' | 'downloading' | 'verifying' | 'done' | 'failed' | 'cancelled';

/** One download (GET /api/downloads, and the data of each `downloads` event). */
export interface Download {
  id: string;
  repo: string;
  revision: string;
  commit: string;
  state: DownloadState;
  done_bytes: number;
  total_bytes: number;
  rate_bps: number;
  eta_seconds: number;
  error: string;
  /** The kind of failure ("unauthorized", "gated", "disk_full", "network", …); "" unless failed. */
  error_kind?: string;
  /** The local model id once done, as /api/models lists it. */
  model_id: string;
  started_at: string;
  updated_at: string;
}

export type Sort = 'downloads' | 'likes' | 'recent';

export interface Search {
  text: string;
  /** "" for every author; the default is mlx-community. */
  author: string;
  sort: Sort;
  limit?: number;
}

/** The default search: MLX models from mlx-community, most downloaded first. */
export const DEFAULT_AUTHOR = 'mlx-community';

export function searchPath(s: Search): string {
  const q = new URLSearchParams();
  if (s.text.trim()) q.set('q', s.text.trim());
  q.set('author', s.author.trim()); // sent even empty: the server's default is mlx-community
  q.set('sort', s.sort);
  q.set('limit', String(s.limit ?? 20));
  return '/api/hub/search?' + q.toString();
}

/** The facts' path: the repo's slash stays a path separator (the route is /api/hub/models/{repo...}). */
export function modelPath(repo: string, revision = ''): string {
  const p = '/api/hub/models/' + repo.split('/').map(encodeURIComponent).join('/');
  return revision ? p + '?revision=' + encodeURIComponent(revision) : p;
}

/** Whether a download is still going (queued, downloading or verifying). */
export function isActive(d: Pick<Download, 'state'>): boolean {
  return d.state === 'queued' || d.state === 'downloading' || d.state === 'verifying';
}

/**
 * Folds one event's download into the list: replaces the one with its id,
 * or puts a new one first. An event older than what the list holds (by
 * updated_at) is ignored, so a late progress event cannot undo "done".
 */
export function applyDownload(list: Download[], d: Download): Download[] {
  const i = list.findIndex((x) => x.id === d.id);
  if (i < 0) return [d, ...list];
  const old = list[i];
  if (old.updated_at && d.updated_at && Date.parse(d.updated_at) < Date.parse(old.updated_at)) return list;
  const next = list.slice();
  next[i] = d;
  return next;
}

/** Active downloads first, then the rest newest first. */
export function ordered(list: Download[]): Download[] {
  const t = (d: Download) => Date.parse(d.started_at || d.updated_at) || 0;
  return list.slice().sort((a, b) => Number(isActive(b)) - Number(isActive(a)) || t(b) - t(a));
}

/** The latest download of a repo, if any. */
export function latestFor(list: Download[], repo: string): Download | undefined {
  return ordered(list).find((d) => d.repo === repo);
}

/** A download's share done, 0–100 (whole numbers), 0 while the size is unknown. */
export function fraction(d: Pick<Download, 'done_bytes' | 'total_bytes' | 'state'>): number {
  if (d.state === 'done') return 100;
  if (!(d.total_bytes > 0)) return 0;
  return Math.min(100, Math.floor((Math.max(0, d.done_bytes) / d.total_bytes) * 100));
}

/** A rate for a person: "12.5 MiB/s". */
export function rate(bps: number): string {
  return bps > 0 ? bytes(bps) + '/s' : '—';
}

/** Time left for a person: "about 2m 5s left", or "" when unknown. */
export function eta(d: Pick<Download, 'eta_seconds' | 'state'>): string {
  if (d.state !== 'downloading' || !(d.eta_seconds > 0)) return '';
  return 'about ' + duration(d.eta_seconds) + ' left';
}

const stateWords: Record<DownloadState, string> = {
  queued: 'Waiting to start',
  downloading: 'Downloading',
  verifying: 'Checking the files',
  done: 'Downloaded',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** The state in words. */
export function stateText(s: DownloadState): string {
  return stateWords[s] ?? s;
}

/** "1.2 GiB of 4.0 GiB · 12 MiB/s · about 5m left": what a progress line says. */
export function progressText(d: Download): string {
  const parts: string[] = [];
  if (d.total_bytes > 0) parts.push(`${bytes(d.done_bytes) === '—' ? '0 B' : bytes(d.done_bytes)} of ${bytes(d.total_bytes)}`);
  else if (d.done_bytes > 0) parts.push(bytes(d.done_bytes));
  if (d.state === 'downloading' && d.rate_bps > 0) parts.push(rate(d.rate_bps));
  const left = eta(d);
  if (left) parts.push(left);
  return parts.join(' · ');
}

/**
 * An error from the hub or the download API in plain words: what happened
 * and what to do. The server's messages already say that for typed Hub
 * errors; a bare status gets a sentence here.
 */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    const m = err.message?.trim();
    if (err.status === 0) return 'The server could not be reached. Is modelbar running?';
    if (m && !/^HTTP \d+$/.test(m)) return m;
    if (err.status === 403) return 'The Hub refused access: this repo needs a Hugging Face token.';
    if (err.status === 404) return 'Not found on the Hub: check the repo name.';
    if (err.status === 502 || err.status === 504) return 'The Hub could not be reached. Check the network and try again.';
    if (err.status === 507) return 'Not enough disk space for this model.';
    return m || `The server answered ${err.status}.`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Whether an error (or a failed download) means a Hub token is needed. */
export function needsToken(err: unknown): boolean {
  if (err && typeof err === 'object' && 'state' in err) {
    const d = err as Download;
    return d.error_kind === 'unauthorized' || d.error_kind === 'gated' || (!d.error_kind && needsToken(d.error));
  }
  if (err instanceof ApiError && (err.status === 403 || err.code === 'gated' || err.code === 'unauthorized')) return true;
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  return /\btoken\b|\bgated\b|unauthori[sz]ed/i.test(text);
}

/**
 * What Cancel did, from DELETE /api/downloads/{id}'s answer, whose
 * partial_files is "removed" or "kept: <why that helps>".
 */
export function cancelText(d: Download | null, partialFiles: string | undefined): string {
  const name = d?.repo ?? 'the download';
  if (partialFiles === 'removed') return `Cancelled ${name}; the partial files were removed.`;
  return `Cancelled ${name}; the partial files are kept, so downloading it again resumes where it stopped.`;
}

/** The name a route should offer for a downloaded model: the repo's last part, lower case. */
export function suggestedName(modelId: string): string {
  const base = modelId.split('/').pop() ?? modelId;
  return base.toLowerCase();
}

/** What the tab says where a Hub token is needed; the "Hub token" form (below the results) sets it. */
export const TOKEN_HELP = 'A Hugging Face token with read access is needed (for a gated repo, from an account that accepted its terms on the Hub).';

/** GET/PUT /api/hub/token's answer: the token itself is never returned. */
export interface HubTokenState {
  has_hub_token: boolean;
}
