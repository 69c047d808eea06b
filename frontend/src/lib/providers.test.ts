import { describe, expect, it } from 'vitest';
import type { Provider } from './api';
import type { EnginePreset } from './api';
import {
  DEFAULT_MAX_TOKENS, envPlaceholder, failureLabel, headerRows, headersBody, healthBody, healthLabel, hostChanged, keyDropped, keyLabel, maxTokensBody,
  maxTokensField, nextBaseURL, presetDefault, presetURL, sameHeaders, testedAgo, untested, type KeyForm,
} from './providers';

const prov = (o: Partial<Provider> = {}): Provider => ({
  name: 'fake', type: 'openai', base_url: 'http://127.0.0.1:8080/v1', api_key_env: '', has_api_key: true,
  api_key_hint: '1234', api_key_source: 'file', default_max_tokens: 0, ...o,
});
const form = (p: Provider, o: Partial<KeyForm> = {}): KeyForm => ({
  type: p.type, base_url: p.base_url, api_key: '', api_key_env: p.api_key_env, removeKey: false, keepEnv: false, ...o,
});

describe('hostChanged', () => {
  it.each([
    ['https://api.openai.com/v1', 'https://api.openai.com/v2', false],
    ['https://api.openai.com/v1', 'https://API.openai.com:443/v1/', false],
    ['http://127.0.0.1:8080/v1', 'http://127.0.0.1:8080', false],
    ['http://127.0.0.1/v1', 'http://127.0.0.1:80/v1', false],
    ['http://127.0.0.1:8080/v1', 'https://127.0.0.1:8080/v1', false], // up to https, same port
    ['https://api.openai.com/v1', 'https://api.groq.com/openai/v1', true],
    ['http://127.0.0.1:8080/v1', 'http://localhost:8080/v1', true],
    ['http://127.0.0.1:8080/v1', 'http://127.0.0.1:8081/v1', true],
    ['https://h.example:8443/v1', 'http://h.example:8443/v1', true], // down to http
    ['http://h.example/v1', 'https://h.example/v1', true], // port 80 -> 443
    ['https://api.openai.com/v1', 'not a url', false], // the server refuses it anyway
  ])('%s -> %s: %s', (from, to, want) => {
    expect(hostChanged(from, to)).toBe(want);
  });
});

describe('nextBaseURL', () => {
  const openai = prov({ base_url: 'https://api.openai.com/v1' });
  it('takes a changed URL, and the type default for an emptied one', () => {
    expect(nextBaseURL(openai, { type: 'openai', base_url: ' http://x:1/v1 ' })).toBe('http://x:1/v1');
    expect(nextBaseURL(openai, { type: 'anthropic', base_url: '' })).toBe('https://api.anthropic.com');
  });
  it("moves a provider on its type's default to the new type's", () => {
    expect(nextBaseURL(openai, { type: 'anthropic', base_url: openai.base_url })).toBe('https://api.anthropic.com');
    const custom = prov();
    expect(nextBaseURL(custom, { type: 'anthropic', base_url: custom.base_url })).toBe(custom.base_url);
  });
});

describe('keyDropped', () => {
  const p = prov();
  const away = 'http://localhost:8080/v1';
  it('drops nothing within the host', () => {
    expect(keyDropped(p, form(p, { base_url: 'http://127.0.0.1:8080/v2' }))).toEqual({ storedKey: false, env: false });
  });
  it('drops the stored key on a move unless a key is entered or removed anyway', () => {
    expect(keyDropped(p, form(p, { base_url: away }))).toEqual({ storedKey: true, env: false });
    expect(keyDropped(p, form(p, { base_url: away, api_key: 'sk-new' })).storedKey).toBe(false);
    expect(keyDropped(p, form(p, { base_url: away, removeKey: true })).storedKey).toBe(false);
    expect(keyDropped(prov({ has_api_key: false, api_key_hint: '', api_key_source: '' }), form(p, { base_url: away })).storedKey).toBe(false);
  });
  it('drops api_key_env on a move unless it changes or is kept', () => {
    const e = prov({ api_key_env: 'FAKE_API_KEY', api_key_source: 'env', api_key_hint: '' });
    expect(keyDropped(e, form(e, { base_url: away }))).toEqual({ storedKey: false, env: true });
    expect(keyDropped(e, form(e, { base_url: away, keepEnv: true })).env).toBe(false);
    expect(keyDropped(e, form(e, { base_url: away, api_key_env: 'OTHER_API_KEY' })).env).toBe(false);
  });
  it('sees the move a type change makes', () => {
    const o = prov({ base_url: 'https://api.openai.com/v1' });
    expect(keyDropped(o, form(o, { type: 'anthropic' })).storedKey).toBe(true);
  });
});

describe('envPlaceholder', () => {
  it.each([
    ['anthropic', 'ANTHROPIC_API_KEY'],
    ['openai', 'OPENAI_API_KEY'],
    ['my.local-llm', 'MY_LOCAL_LLM_API_KEY'],
    ['01ai', '_01AI_API_KEY'],
    ['', 'PROVIDER_API_KEY'],
  ])('%s: %s', (name, want) => {
    expect(envPlaceholder(name)).toBe(want);
  });
  it.each([
    // The issue: the Anthropic preset said OPENAI_API_KEY.
    ['anthropic', 'anthropic', 'https://api.anthropic.com', 'ANTHROPIC_API_KEY'],
    ['claude', 'anthropic', '', 'ANTHROPIC_API_KEY'],
    ['anthropic-2', 'anthropic', 'https://api.anthropic.com', 'ANTHROPIC_API_KEY'],
    ['openai', 'openai', '', 'OPENAI_API_KEY'],
    ['fast', 'openai', 'https://api.groq.com/openai/v1', 'GROQ_API_KEY'],
    ['ollama', 'openai', 'http://127.0.0.1:11434/v1', 'OLLAMA_API_KEY'],
    ['x', 'openai', 'not a url', 'X_API_KEY'],
  ])('%s (%s, %s): %s', (name, type, url, want) => {
    expect(envPlaceholder(name, type, url)).toBe(want);
  });
});

describe('failureLabel', () => {
  it('names the kind of failure, and the status the provider answered', () => {
    expect(failureLabel({ code: 'connection_refused' })).toBe('not running');
    expect(failureLabel({ code: 'http_status', http_status: 401 })).toBe('401');
    expect(failureLabel({ code: 'dns' })).toBe('unknown host');
    expect(failureLabel({})).toBe('failed');
  });
});

describe('keyLabel', () => {
  it('shows a stored key by its hint and one from the environment by its variable', () => {
    expect(keyLabel(prov())).toBe('••••1234');
    expect(keyLabel(prov({ api_key_source: 'env', api_key_env: 'GROQ_API_KEY', api_key_hint: '' }))).toBe('from $GROQ_API_KEY');
    expect(keyLabel(prov({ has_api_key: false, api_key_hint: '', api_key_source: '', api_key_env: 'GROQ_API_KEY' }))).toBe('$GROQ_API_KEY (not set)');
    expect(keyLabel(prov({ has_api_key: false, api_key_hint: '', api_key_source: '' }))).toBe('no key');
  });
});

describe('default max tokens', () => {
  it('shows the default (0) as an empty field, a set value as itself', () => {
    expect(maxTokensField(0)).toBeNull();
    expect(maxTokensField(undefined)).toBeNull();
    expect(maxTokensField(8192)).toBe(8192);
    expect(DEFAULT_MAX_TOKENS).toBe(4096);
  });
  it.each([
    [null, 0],
    [undefined, 0],
    ['', 0],
    [2048, 2048],
    ['1024', 1024],
    ['x', 0],
  ])('sends %j as %j', (v, want) => {
    expect(maxTokensBody(v)).toBe(want);
  });
});

describe('untested', () => {
  it('says why a hosted API without a key was not tested', () => {
    expect(untested(prov({ warnings: [{ field: 'api_key', message: 'Groq refuses requests without an API key' }] }))).toBe('not tested: no API key is set');
    expect(untested(prov({ warnings: [{ field: 'base_url', message: 'has no /v1' }] }))).toBe('not tested yet');
    expect(untested(prov())).toBe('not tested yet');
  });
});

describe('testedAgo', () => {
  const now = Date.parse('2026-12-07T01:00:00Z');
  it.each([
    ['2026-12-07T01:00:00Z', 'tested just now'],
    ['2026-12-07T00:59:20Z', 'tested 40 s ago'],
    ['2026-12-07T00:55:00Z', 'tested 5 min ago'],
    ['2026-12-06T22:00:00Z', 'tested 3 h ago'],
    ['2026-12-05T01:00:00Z', 'tested 2 d ago'],
    ['2026-12-07T01:00:05Z', 'tested just now'], // a server clock slightly ahead
  ])('%s', (at, want) => {
    expect(testedAgo(at, now)).toBe(want);
  });
});

const engine = (name: string, base_url: string): EnginePreset => ({
  name, label: name, type: 'openai', base_url, notes: '', usage_on_request: true, reasoning_field: 'reasoning_content', tagged_names: false,
});
const vllm = engine('vllm', 'http://localhost:8000/v1');
const ollama = engine('ollama', 'http://localhost:11434/v1');

describe('presets', () => {
  it('give their address in each API convention', () => {
    expect(presetDefault(vllm, 'openai')).toBe('http://localhost:8000/v1');
    expect(presetDefault(vllm, 'anthropic')).toBe('http://localhost:8000');
    expect(presetDefault(undefined, 'anthropic')).toBe('https://api.anthropic.com');
  });
  it.each([
    ['', vllm, ollama, 'http://localhost:11434/v1'], // empty: the new default
    ['http://localhost:8000/v1', vllm, ollama, 'http://localhost:11434/v1'], // still the old default
    ['https://api.openai.com/v1', undefined, vllm, 'http://localhost:8000/v1'], // generic's default
    ['http://gpu-box:8000/v1', vllm, ollama, 'http://gpu-box:8000/v1'], // an address of one's own is kept
    ['http://localhost:11434/v1', ollama, undefined, 'https://api.openai.com/v1'],
  ])('move the Base URL %s from %s to %s', (field, from, to, want) => {
    expect(presetURL(field, 'openai', from, to)).toBe(want);
  });
  it('count in nextBaseURL when the field is emptied', () => {
    const cur = { type: 'openai' as const, base_url: 'http://gpu-box:8000/v1' };
    expect(nextBaseURL(cur, { type: 'openai', base_url: '' }, (t) => presetDefault(vllm, t))).toBe('http://localhost:8000/v1');
  });
});

describe('extra headers', () => {
  it('become rows, sorted, one empty row for none', () => {
    expect(headerRows(null)).toEqual([{ name: '', value: '' }]);
    expect(headerRows({ 'X-Tenant': 'a', 'CF-Access-Client-Id': 'b' })).toEqual([
      { name: 'CF-Access-Client-Id', value: 'b' },
      { name: 'X-Tenant', value: 'a' },
    ]);
  });
  it('are sent trimmed, without empty rows', () => {
    expect(headersBody([{ name: ' X-Tenant ', value: ' a ' }, { name: '', value: 'ignored' }])).toEqual({ headers: { 'X-Tenant': 'a' }, problem: '' });
    expect(headersBody([{ name: 'CF-Access-Client-Id', value: 'id' }]).problem).toBe('');
  });
  it.each([
    [[{ name: 'Authorization', value: 'Bearer x' }], 'credentials'],
    [[{ name: 'x-api-key', value: 'k' }], 'credentials'],
    [[{ name: 'CF-Access-Client-Secret', value: 's' }], 'credentials'],
    [[{ name: 'X-Goog-Api-Key', value: 'k' }], 'credentials'],
    [[{ name: 'X-A', value: '1' }, { name: 'x-a', value: '2' }], 'twice'],
  ])('say at once what the server refuses: %j', (rows, want) => {
    expect(headersBody(rows).problem).toContain(want);
  });
  it('compare by content', () => {
    expect(sameHeaders(null, {})).toBe(true);
    expect(sameHeaders({ a: '1' }, { a: '1' })).toBe(true);
    expect(sameHeaders({ a: '1' }, { a: '2' })).toBe(false);
    expect(sameHeaders({ a: '1' }, { a: '1', b: '' })).toBe(false);
  });
});

describe('health', () => {
  const now = Date.parse('2026-12-07T05:00:30Z');
  it.each([
    [{ health_check_seconds: 0, health: null }, 'off', ''],
    [{ health_check_seconds: 30, health: null }, 'pending', 'checking every 30 s…'],
    [{ health_check_seconds: 30, health: { ok: true, checked_at: '2026-12-07T05:00:00Z', latency_ms: 12, error: null } }, 'ok', '12 ms · checked 30 s ago'],
    [{ health_check_seconds: 30, health: { ok: false, checked_at: '2026-12-07T05:00:28Z', latency_ms: 3, error: 'provider v: HTTP 503: Loading model' } }, 'down', 'provider v: HTTP 503: Loading model · checked just now'],
  ])('%j is %s', (p, state, text) => {
    expect(healthLabel(p, now)).toEqual({ state, text });
  });
  it('field sends 0 for empty', () => {
    expect(healthBody('')).toBe(0);
    expect(healthBody(null)).toBe(0);
    expect(healthBody('30')).toBe(30);
  });
});
