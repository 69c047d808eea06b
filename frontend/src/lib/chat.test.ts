import { describe, expect, it } from 'vitest';
import { attemptText, failoverText, history, pendingToolCalls, prettyArguments, savable, titleFrom, type Msg } from './chat';

const u = (id: string, content: string): Msg => ({ id, role: 'user', content });
const a = (id: string, content: string, extra: Partial<Msg> = {}): Msg => ({ id, role: 'assistant', content, end: 'done', ...extra });

describe('history', () => {
  it('leaves out failed exchanges but keeps the question being asked and stopped answers', () => {
    const msgs = [
      u('1', 'one'), a('2', 'ok'),
      u('3', 'two'), a('4', '', { end: 'error', error: '503' }),
      u('5', 'three'), a('6', 'half', { end: 'stopped' }),
      u('7', 'four'),
    ];
    expect(history(msgs, 0, ' be brief ')).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'one' }, { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'three' }, { role: 'assistant', content: 'half' },
      { role: 'user', content: 'four' },
    ]);
  });

  it("gives each compared model its own answers, and lane 0's where a lane has none", () => {
    const msgs = [u('1', 'q1'), a('2', 'solo'), u('3', 'q2'), a('4', 'A', { lane: 0 }), a('5', 'B', { lane: 1 }), u('6', 'q3')];
    expect(history(msgs, 1).map((m) => m.content)).toEqual(['q1', 'solo', 'q2', 'B', 'q3']);
    expect(history(msgs, 0).map((m) => m.content)).toEqual(['q1', 'solo', 'q2', 'A', 'q3']);
  });

  it('keeps a tool result only with its call', () => {
    const call = { id: 'c1', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    const msgs: Msg[] = [u('1', 'q'), a('2', '', { tool_calls: [call] }), { id: '3', role: 'tool', content: 'r', tool_call_id: 'c1' }, { id: '4', role: 'tool', content: 'stray', tool_call_id: 'zz' }];
    expect(history(msgs, 0)).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', content: 'r', tool_call_id: 'c1' },
    ]);
    expect(pendingToolCalls(msgs, msgs[1])).toEqual([]);
    expect(pendingToolCalls(msgs.slice(0, 2), msgs[1])).toEqual([call]);
  });
});

describe('helpers', () => {
  it('says what an attempt means', () => {
    const base = { client_request_id: 'x', model: 'm', reason: 'HTTP 429', next: 'acme', delay_ms: 0 };
    expect(attemptText({ ...base, backend: 'acme', status: 429, action: 'retry' })).toBe('retrying m at acme (429)…');
    expect(attemptText({ ...base, backend: 'acme', status: 0, reason: 'timed out', action: 'failover', next: 'backup' })).toBe('m at acme failed (timed out): failing over to backup…');
    expect(attemptText({ ...base, backend: 'b', model: '', status: 503, action: 'give_up', next: '' })).toBe('b failed (503): no backend left to try');
  });

  it("counts a retry's wait down from when its event came", () => {
    const a = { client_request_id: 'x', backend: 'fake', model: 'big', status: 429, reason: 'HTTP 429', action: 'retry' as const, next: 'fake', delay_ms: 1000, received: 5000 };
    expect(attemptText(a, 5000)).toBe('retrying big at fake (429)… in 1.0 s');
    expect(attemptText(a, 4850), "a clock tick older than the event").toBe('retrying big at fake (429)… in 1.0 s');
    expect(attemptText(a, 5400)).toBe('retrying big at fake (429)… in 0.6 s');
    expect(attemptText(a, 5950)).toBe('retrying big at fake (429)… in 0.1 s');
    expect(attemptText(a, 6000)).toBe('retrying big at fake (429) now…');
    expect(attemptText({ ...a, delay_ms: 12000 }, 5000)).toBe('retrying big at fake (429)… in 12 s');
  });

  it('names the backend and model that failed and the one that answered', () => {
    const fail = { client_request_id: 'x', backend: 'fake', model: 'fake-large', status: 503, reason: 'HTTP 503', action: 'failover' as const, next: 'fake', delay_ms: 0 };
    const retry = { ...fail, action: 'retry' as const, delay_ms: 500 };
    // Two models of one provider: the words tell them apart.
    expect(failoverText({ backend: 'fake', backend_model: 'fake-small', fallback_from: 'fake', attempts: [retry, fail] })).toBe(
      'fake-large at fake failed (HTTP 503); answered by fake-small at fake',
    );
    expect(failoverText({ backend: 'b', backend_model: 'm2', fallback_from: 'a, fake', attempts: [{ ...fail, backend: 'a', model: 'm1', reason: 'timed out' }, fail] })).toBe(
      'm1 at a failed (timed out), fake-large at fake failed (HTTP 503); answered by m2 at b',
    );
    // Without the attempts events: the header's backends.
    expect(failoverText({ backend: 'b', fallback_from: 'a, c', attempts: [] })).toBe('a failed, c failed; answered by b');
    expect(failoverText({ backend: 'b', fallback_from: '' })).toBe('');
  });

  it('titles, saves and pretty-prints', () => {
    expect(titleFrom([u('1', '  Plan a trip to Lisbon\nwith details')])).toBe('Plan a trip to Lisbon');
    expect(titleFrom([u('1', 'x'.repeat(80))])).toHaveLength(58);
    expect(titleFrom([])).toBe('New chat');
    expect(savable([a('1', 'x', { streaming: true }), a('2', 'y', { request_id: 'r', started: 1 })])).toEqual([a('2', 'y')]);
    expect(prettyArguments('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyArguments('not json')).toBe('not json');
    expect(prettyArguments('')).toBe('{}');
  });
});
