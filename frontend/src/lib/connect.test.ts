import { describe, expect, it } from 'vitest';
import type { ConnectClient } from './api';
// backend/connect's source, as text (Vite's ?raw): the placeholder must stay the one it writes.
import connectGo from '../../../backend/connect/connect.go?raw';
import { apiLabel, blockLabel, codeSpans, connectKeyName, matchClients, connectPath, isSteps, KEY_PLACEHOLDER, pickClient, stepLines, tabStep, testedLine, withKey } from './connect';

const client = (id: string, o: Partial<ConnectClient> = {}): ConnectClient => ({ id, name: id, apis: ['openai'], blocks: [], ...o });

describe('connectPath', () => {
  it('asks for the server defaults until the user chooses', () => {
    expect(connectPath(null)).toBe('/api/connect');
  });

  it('sends both names, trimmed and encoded', () => {
    expect(connectPath({ model: ' gpt-4o ', smallModel: 'fast' })).toBe('/api/connect?model=gpt-4o&small_model=fast');
    const q = new URLSearchParams(connectPath({ model: 'openai/gpt 4&x', smallModel: 'a=b' }).split('?')[1]);
    expect([q.get('model'), q.get('small_model')]).toEqual(['openai/gpt 4&x', 'a=b']);
  });

  it('sends empty names too: Claude Code keeps its own models, the small model follows the model', () => {
    expect(connectPath({ model: '', smallModel: '  ' })).toBe('/api/connect?model=&small_model=');
  });
});

describe('pickClient', () => {
  const cs = [client('claude-code'), client('codex'), client('opencode')];
  it('keeps the chosen client while the answer has it', () => {
    expect(pickClient(cs, 'opencode')).toBe('opencode');
  });
  it('falls back to the first client, in the server order', () => {
    expect(pickClient(cs, '')).toBe('claude-code');
    expect(pickClient(cs, 'gone')).toBe('claude-code');
  });
  it('picks nothing from no clients', () => {
    expect(pickClient([], 'codex')).toBe('');
    expect(pickClient(null, 'codex')).toBe('');
  });
});

describe('blocks', () => {
  it('labels a block by its path or screen, the shell block as Shell', () => {
    expect(blockLabel({ title: '~/.codex/config.toml', lang: 'toml', text: '' })).toBe('~/.codex/config.toml');
    expect(blockLabel({ title: 'Settings', lang: '', text: '' })).toBe('Settings');
    expect(blockLabel({ lang: 'sh', text: 'export A=b\n' })).toBe('Shell');
    expect(blockLabel({ lang: 'json', text: '{}' })).toBe('json');
  });

  it('shows a settings block as its lines', () => {
    const b = { title: 'Settings', lang: '', text: 'API Provider: OpenAI Compatible\nBase URL: http://127.0.0.1:11500/v1\n' };
    expect(isSteps(b)).toBe(true);
    expect(stepLines(b)).toEqual(['API Provider: OpenAI Compatible', 'Base URL: http://127.0.0.1:11500/v1']);
    expect(isSteps({ lang: 'sh', text: '' })).toBe(false);
  });
});

describe('testedLine', () => {
  it('says how the suite runs a client, or why it does not', () => {
    expect(testedLine(client('pi', { tested: '`pi -p` with both providers' }))).toEqual({ tested: true, by: 'the client suite', text: '`pi -p` with both providers' });
    expect(testedLine(client('curl', { tested: 'both commands', tested_by: 'the browser suite' }))).toEqual({ tested: true, by: 'the browser suite', text: 'both commands' });
    expect(testedLine(client('xcode', { untested: 'it runs only on macOS' }))).toEqual({ tested: false, by: '', text: 'it runs only on macOS' });
    expect(testedLine(client('new'))).toBeNull();
  });
});

describe('codeSpans', () => {
  it('splits backticked code from text', () => {
    expect(codeSpans('Leave `ANTHROPIC_API_KEY` unset: it would win over the token.')).toEqual([
      { code: false, text: 'Leave ' },
      { code: true, text: 'ANTHROPIC_API_KEY' },
      { code: false, text: ' unset: it would win over the token.' },
    ]);
    expect(codeSpans('`a` and `b`')).toEqual([
      { code: true, text: 'a' },
      { code: false, text: ' and ' },
      { code: true, text: 'b' },
    ]);
  });

  it('keeps text without spans, and a lone backtick, as text', () => {
    expect(codeSpans('plain')).toEqual([{ code: false, text: 'plain' }]);
    expect(codeSpans('a ` b')).toEqual([{ code: false, text: 'a ` b' }]);
    expect(codeSpans('')).toEqual([]);
  });
});

describe('apiLabel', () => {
  it('names the known APIs and passes a new one through', () => {
    expect(apiLabel('anthropic')).toBe('Anthropic API');
    expect(apiLabel('responses')).toBe('Responses API');
    expect(apiLabel('openai')).toBe('OpenAI API');
    expect(apiLabel('grpc')).toBe('grpc');
  });
});

describe('tabStep', () => {
  it.each([
    [0, 'ArrowRight', 1],
    [12, 'ArrowRight', 0],
    [0, 'ArrowLeft', 12],
    [5, 'ArrowDown', 6],
    [5, 'ArrowUp', 4],
    [7, 'Home', 0],
    [7, 'End', 12],
    [7, 'a', null],
  ])('from %i, %s goes to %s', (i, key, want) => {
    expect(tabStep(i, key, 13)).toBe(want);
  });

  it('goes nowhere without tabs', () => {
    expect(tabStep(0, 'ArrowRight', 0)).toBeNull();
  });
});

describe('KEY_PLACEHOLDER', () => {
  it('is the one backend/connect writes', () => {
    expect(/const KeyPlaceholder = "([^"]*)"/.exec(connectGo)?.[1]).toBe(KEY_PLACEHOLDER);
  });
});

describe('withKey', () => {
  const key = 'mb-AbC_d-12';
  it('puts a created key where the placeholder is, everywhere', () => {
    expect(withKey('export A=mb-your-key\n"apiKey": "mb-your-key"', key)).toBe('export A=mb-AbC_d-12\n"apiKey": "mb-AbC_d-12"');
  });
  it('leaves the text alone without a key, or with one that is not a modelbar key', () => {
    expect(withKey('x mb-your-key', null)).toBe('x mb-your-key');
    expect(withKey('x mb-your-key', "mb-it's")).toBe('x mb-your-key');
    expect(withKey('x mb-your-key', 'sk-other')).toBe('x mb-your-key');
  });
});

describe('connectKeyName', () => {
  it('says what the key is for and when it was made, within the 100 characters a name may have', () => {
    const n = connectKeyName(new Date(2026, 0, 2, 3, 4));
    expect(n).toBe('tools (Connect, 2026-01-02 03:04)');
    expect(n.length).toBeLessThanOrEqual(100);
  });
});

describe('matchClients', () => {
  const cs = [client('claude-code', { name: 'Claude Code' }), client('openai-sdk', { name: 'OpenAI SDKs' }), client('anthropic-sdk', { name: 'Anthropic SDKs' })];
  it('keeps the clients whose name or id has every word', () => {
    expect(matchClients(cs, 'sdk').map((c) => c.id)).toEqual(['openai-sdk', 'anthropic-sdk']);
    expect(matchClients(cs, 'Anthropic SDK').map((c) => c.id)).toEqual(['anthropic-sdk']);
    expect(matchClients(cs, 'claude-code').map((c) => c.id)).toEqual(['claude-code']);
  });
  it('shows them all for an empty query or one nothing matches', () => {
    expect(matchClients(cs, ' ')).toBe(cs);
    expect(matchClients(cs, 'zzz')).toBe(cs);
  });
});
