// The admin API's shapes (see the top-level README, "Admin API").

export interface Route {
  id: number;
  model_pattern: string;
  backend: string;
  backend_model: string;
  fallbacks: string[] | null;
  priority: number;
  enabled: boolean;
  /** Left out of the model list (GET /v1/models); the route still routes. Absent from an older server: false. */
  hidden?: boolean;
  /** The route's budget: null (or absent, from an older server) is no limit. */
  max_requests_per_minute?: number | null;
  max_tokens_per_day?: number | null;
  /**
   * The route's group: the backends that share its traffic, before the
   * fallbacks. targets[0] is always backend and backend_model; a route
   * with one backend is a group of one. Absent from an older server.
   */
  targets?: Member[];
  /** Which member a request goes to first: "first" ("" or absent), "weighted" or "least-busy". */
  policy?: Policy | '';
  /** The context window, in tokens, of the route's provider members whose model list gives none; null: not known. */
  max_context?: number | null;
  /** Its current use, in GET /api/routes only. */
  usage?: RouteUsage;
}

/** A route's use of its budget: requests in the current minute window, tokens since local midnight. */
export interface RouteUsage {
  requests_this_minute: number;
  tokens_today: number;
}

export type RouteInput = Omit<Route, 'id' | 'usage'>;

/** A backend of a route's group. */
export interface Member {
  backend: string;
  /** The name it is sent; "" sends the requested name. */
  model: string;
  /** Its share under the weighted policy, 1..1000 (0 or absent on input: 1). */
  weight: number;
}

/** How a route's group picks the member a request goes to first. */
export type Policy = 'first' | 'weighted' | 'least-busy';

export interface Target {
  backend: string;
  model: string;
  /** Whether the backend has the model: absent when its model list is not known (yet). */
  known?: boolean;
  /** The backend's (or this model's) cooldown, when it has one. */
  cooldown?: Cooldown;
  /** A group member's weight; absent for a fallback. */
  weight?: number;
}

/** Something that will probably go wrong with a step of a resolved chain. */
export interface ResolveWarning {
  step: number;
  backend: string;
  model: string;
  code: 'model_not_found' | 'model_unusable' | 'local_unavailable' | 'cooling_down' | string;
  message: string;
}

export interface Resolution {
  model: string;
  route: Route | null;
  backend: string;
  backend_model: string;
  fallbacks: string[] | null;
  chain: Target[] | null;
  /** The route's group, in route order (the first steps of chain, as a set); absent from an older server. */
  group?: Target[] | null;
  /** The group's policy; absent from an older server. */
  policy?: Policy | '';
  /** Absent from an older server. */
  warnings?: ResolveWarning[];
}

/** POST /api/routes/try: how one small real request went. */
export interface TryResult {
  ok: boolean;
  model: string;
  status: number;
  backend: string;
  /** The model the answering backend was asked for. */
  backend_model?: string;
  fallback_from: string[];
  /** Every try, in the request log's words (as GET /api/requests/{id}). */
  attempts?: RequestAttempt[];
  latency_ms: number;
  text?: string;
  error?: string;
}

/** GET /api/providers/{name}/models ("local" lists the local models). */
export interface BackendModels {
  provider: string;
  known: boolean;
  models: { id: string; name?: string; context_length?: number }[];
  error?: string;
}

/** Advice about a saved provider: allowed, but probably wrong. */
export interface ProviderWarning {
  field: string;
  message: string;
}

export interface Provider {
  name: string;
  type: 'openai' | 'anthropic';
  base_url: string;
  api_key_env: string;
  has_api_key: boolean;
  /** The last 4 characters of a stored key; "" for a key from the environment (api_key_source "env"). */
  api_key_hint: string;
  api_key_source: string;
  /** A key is configured but could not be read: the provider sends no requests until it is set again. */
  key_unreadable?: boolean;
  /** Why the key could not be read (never the key). */
  key_error?: string;
  default_max_tokens: number;
  /** What looks wrong (a base URL without /v1, a hosted API without a key); absent from an older server. */
  warnings?: ProviderWarning[];
  /** The latest connection test since the server started; absent when none ran (or from an older server). */
  last_test?: ProviderLastTest;
  /** The kind of server (a preset's name, "" generic); absent from an older server. */
  preset?: string;
  /** Headers sent on every request to the provider; null (or absent) when none. */
  extra_headers?: Record<string, string> | null;
  /** Seconds between health checks; 0: none. */
  health_check_seconds?: number;
  /** The latest health check; null when none (off, or not run yet). */
  health?: ProviderHealth | null;
  created_at?: string;
  updated_at?: string;
}

/** A provider's latest health check (GET /api/providers "health"). */
export interface ProviderHealth {
  ok: boolean;
  checked_at: string;
  latency_ms: number;
  error: string | null; // null when the check passed
}

/** A kind of server a provider can be (GET /api/providers/presets), with the quirks modelbar handles for it. */
export interface EnginePreset {
  name: string;
  label: string;
  type: 'openai' | 'anthropic';
  base_url: string;
  notes: string;
  health_path?: string;
  usage_on_request: boolean;
  reasoning_field: string;
  tagged_names: boolean;
}

/** A provider's last connection test as the server keeps it: the test's answer in plain words, no model list. */
export interface ProviderLastTest {
  at: string;
  ok: boolean;
  latency_ms: number;
  model_count?: number;
  error?: string;
  code?: string;
  http_status?: number;
}

export interface ProviderInput {
  type: string;
  base_url: string;
  api_key?: string;
  api_key_env?: string;
  default_max_tokens?: number;
}

export type ProviderTest =
  | { ok: true; latency_ms: number; model_count: number; models: string[] }
  | {
      ok: false;
      /** What went wrong, in plain words. */
      error: string;
      /** connection_refused, dns, tls, timeout, connection_closed, unreachable, http_status, config, ... */
      code?: string;
      /** The status the gateway would answer a client with. */
      status: number;
      /** The provider's own status, when it answered. */
      http_status?: number;
      /** The underlying error. */
      detail?: string;
    };

export interface LocalModel {
  id: string;
  path: string;
  source: string;
  size_bytes: number;
  architecture: string;
  quantization: string;
  context_length: number;
  usable: boolean;
  reason?: string;
  loaded: boolean;
  loading: boolean;
  pinned: boolean;
  in_use: number;
  memory_bytes: number;
}

/**
 * A provider, or one model at a provider, failing, cooling down or about
 * to be probed (GET /api/cooldowns, `cooldowns` in /api/status).
 */
export interface Cooldown {
  provider: string;
  /** The same as provider (its name before cooldowns had a scope). */
  backend: string;
  /** The upstream model; absent when the whole provider cools down. */
  model?: string;
  scope: 'model' | 'provider';
  /** failing: not yet cooling down; probing: the next request (or one in flight) tries it. */
  state: 'failing' | 'cooldown' | 'probing';
  consecutive_failures: number;
  /** RFC 3339; only in cooldown. */
  until?: string;
  reason?: string;
}

/** A fault in modelbar's stored state the user has to act on (`problems` in /api/status). */
export interface Problem {
  component: 'database' | 'secrets' | string;
  /** The provider, for "secrets". */
  subject?: string;
  message: string;
}

export interface Status {
  version: string;
  addr: string;
  /** The URL clients use (a loopback host when listening on all interfaces). */
  base_url?: string;
  data_dir: string;
  started_at: string;
  uptime_seconds: number;
  secrets_backend: string;
  providers: number;
  routes: number;
  local: { available: boolean; backend?: string; backend_reason?: string; reason?: string; models: LocalModel[] };
  cooldowns: Cooldown[] | null;
  /** The same list as cooldowns, under its old name. */
  backends?: Cooldown[] | null;
  problems: Problem[] | null;
}

export interface Settings {
  memory_budget_mb: number;
  idle_ttl_minutes: number;
  max_retries: number;
  retry_backoff_ms: number;
  retry_backoff_max_ms: number;
  request_timeout_seconds: number;
  connect_timeout_seconds: number;
  first_byte_timeout_seconds: number;
  stream_idle_timeout_seconds: number;
  cooldown_failures: number;
  cooldown_seconds: number;
  request_log_retention_days: number;
  require_api_keys: boolean;
  body_read_timeout_seconds: number;
  max_connections: number;
  max_inflight_requests: number;
  translation_budget_mb: number;
  /** Browser origins (scheme://host[:port]) that may call /v1 besides loopback pages. */
  allowed_origins: string[];
  /** Keep the /v1/responses answers modelbar makes itself (default true). */
  responses_store: boolean;
  /** Days stored responses are kept; default 30, 0: until deleted. */
  responses_retention_days: number;
}

/** A numeric setting's key. */
export type NumericSetting = {
  [K in keyof Settings]: Settings[K] extends number ? K : never;
}[keyof Settings];

/** GET and PUT /api/settings: the settings, each numeric one's default and value in force, and warnings. */
export interface SettingsView extends Settings {
  /** What each numeric setting is when left at 0 (memory_budget_mb's from the machine's memory). Absent from an older server. */
  defaults?: Partial<Record<NumericSetting, number>>;
  /** The value in force: the setting, or its default when 0; -1 where that switches the feature off. */
  effective?: Partial<Record<NumericSetting, number>>;
  /** Memory of the pinned and of all loaded local models, in MiB. */
  pinned_mb?: number;
  loaded_mb?: number;
  /** Accepted values worth a second look (a memory budget below what is pinned). */
  warnings?: { field: string; message: string }[];
}

export interface RequestEntry {
  id: number;
  time: string;
  method: string;
  path: string;
  protocol: string;
  model: string;
  route: string;
  backend: string;
  fallback_from: string[] | null;
  status: number;
  stream: boolean;
  /** The whole prompt, cached_tokens included. */
  input_tokens: number;
  output_tokens: number;
  /** The part of input_tokens the backend read from its prompt cache (the local engine's reused prefix, a provider's cache hits); 0 when none or not reported, absent from an older server. */
  cached_tokens?: number;
  ttfb_ms: number;
  duration_ms: number;
  error?: string;
  /** Where output_tokens comes from: the backend's usage, the local engine's tokens counted, or estimated from the text. Absent from an older server. */
  output_tokens_source?: 'usage' | 'counted' | 'estimated' | '';
  /** The failover chain as walked, one step per try. Absent from an older server. */
  attempts?: RequestAttempt[] | null;
}

/** One try of a backend in a request's failover chain. */
export interface RequestAttempt {
  backend: string;
  model: string;
  /** The backend's status, or what its failure maps to (502 unreachable, 504 timeout, 503 skipped, 499 client left). */
  status: number;
  outcome: 'answered' | 'failed' | 'skipped' | 'cancelled' | string;
  /** modelbar's own short words; never a provider's message. */
  reason?: string;
  /** 1 for the first retry of the same backend. */
  retry?: number;
  duration_ms: number;
}

/** One backend's requests over a period (GET /api/requests/totals). */
export interface RequestTotals {
  backend: string;
  requests: number;
  errors: number;
  cancelled: number;
  failovers: number;
  input_tokens: number;
  output_tokens: number;
  /** Medians in ms; p50_ttfb_ms is -1 when no answer began. */
  p50_duration_ms: number;
  p50_ttfb_ms: number;
}

export interface RequestTotalsAnswer {
  time: string;
  hour: RequestTotals[];
  day: RequestTotals[];
}

export interface APIKey {
  id: number;
  name: string;
  hint: string;
  created_at: string;
  last_used_at: string | null;
  key?: string; // only in the answer to POST /api/keys
}

/** A browser session (GET /api/sessions); `current` marks the caller's own. */
export interface Session {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string;
  current: boolean;
}

/** The protocol a client's configuration makes it speak; "responses" is OpenAI's Responses API (/v1/responses). */
export type ConnectAPI = 'openai' | 'anthropic' | 'responses';

/** One environment variable of a client's configuration. */
export interface ConnectEnv {
  name: string;
  value: string;
  /** Shown after a comment (optional_env) that says what it changes. */
  optional?: boolean;
}

/** A configuration file: "~/" is the home directory, a path without it is relative to the project. */
export interface ConnectFile {
  path: string;
  format: 'json' | 'yaml' | 'toml' | 'js' | string;
  content: string;
}

/** A snippet as shown to a person (README.md shows the same). lang "" is a list of settings to enter, one a line. */
export interface ConnectBlock {
  /** Where the text goes: a file path, or "Settings". */
  title?: string;
  lang: 'sh' | 'json' | 'yaml' | 'toml' | 'js' | '' | string;
  text: string;
}

/** One client's minimal configuration (backend/connect `Client`). */
export interface ConnectClient {
  id: string;
  name: string;
  apis: ConnectAPI[];
  env?: ConnectEnv[];
  optional_env?: string;
  files?: ConnectFile[];
  steps?: string[];
  run?: string;
  note?: string;
  /** How a suite runs it (tested_by names it; absent: the client suite, e2e/clients); else `untested` says why none does. */
  tested?: string;
  tested_by?: string;
  untested?: string;
  blocks: ConnectBlock[];
}

/** GET /api/connect: each client's configuration for this server, in the order to show them. */
export interface Connect {
  /** modelbar's address as clients reach it, without /v1. */
  base_url: string;
  /** Inference keys are on: the snippets carry a placeholder where a key goes. */
  api_key_required: boolean;
  model: string;
  small_model: string;
  /** Where model came from: the query, the server's model list ("available"), or none there ("placeholder"). Absent from an older server. */
  model_source?: 'query' | 'available' | 'placeholder';
  /** The model names the server lists (GET /v1/models), to choose from. */
  models?: string[];
  clients: ConnectClient[];
  /** The same clients as README.md's "Connect your tools" section renders them. */
  markdown: string;
}
