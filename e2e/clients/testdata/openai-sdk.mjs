// The OpenAI SDK through modelbar, configured by OPENAI_BASE_URL and
// OPENAI_API_KEY alone (as backend/connect renders them): over chat
// completions (provider "openai") a streamed text answer and a tool round
// trip; over the Responses API (provider "responses") a whole answer
// (responses.create), a stream (responses.stream), a function tool round
// trip and structured output (text.format json_schema). One JSON line per
// check.
import OpenAI from 'openai';
import { execSync } from 'node:child_process';

const spec = JSON.parse(process.argv[2]);
const client = new OpenAI({ maxRetries: 0 });
const tools = [{ type: 'function', function: { name: 'bash', description: 'Run a shell command',
  parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } } }];
const responsesTools = [{ type: 'function', name: 'bash', description: 'Run a shell command', strict: false,
  parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } }];
const run = (command) => execSync(command, { encoding: 'utf8', shell: '/bin/sh' }) || 'done';

async function chat(c) {
  if (c.kind === 'stream') {
    const stream = await client.chat.completions.create({ model: spec.model, stream: true, messages: [{ role: 'user', content: c.prompt }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  }
  if (c.kind === 'tool') {
    const messages = [{ role: 'user', content: c.prompt }];
    const first = await client.chat.completions.create({ model: spec.model, messages, tools });
    const call = first.choices[0].message.tool_calls?.[0];
    if (!call) throw new Error('no tool call: ' + JSON.stringify(first));
    messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: run(JSON.parse(call.function.arguments).command) });
    return (await client.chat.completions.create({ model: spec.model, messages, tools })).choices[0].message.content;
  }
  throw new Error('unknown kind ' + c.kind);
}

function completed(r) {
  if (r.status !== 'completed') throw new Error('status ' + r.status + ': ' + JSON.stringify(r));
  return r;
}

async function responses(c) {
  switch (c.kind) {
    case 'text':
      return completed(await client.responses.create({ model: spec.model, input: c.prompt })).output_text;
    case 'stream': {
      const stream = client.responses.stream({ model: spec.model, input: c.prompt });
      let text = '';
      const types = new Set();
      for await (const ev of stream) {
        types.add(ev.type);
        if (ev.type === 'response.output_text.delta') text += ev.delta;
      }
      const final = completed(await stream.finalResponse());
      for (const t of ['response.created', 'response.output_text.delta', 'response.output_text.done', 'response.completed']) {
        if (!types.has(t)) throw new Error('the stream had no ' + t + ' event: ' + [...types].join(', '));
      }
      // output_text is the SDK's sum of the output's text parts, which
      // finalResponse() does not add: sum them here.
      const whole = final.output.filter((i) => i.type === 'message').flatMap((i) => i.content)
        .filter((p) => p.type === 'output_text').map((p) => p.text).join('');
      if (whole !== text) throw new Error(`the deltas ${JSON.stringify(text)} differ from the final response's text ${JSON.stringify(whole)}`);
      return text;
    }
    case 'tool': {
      const input = [{ role: 'user', content: c.prompt }];
      const first = completed(await client.responses.create({ model: spec.model, input, tools: responsesTools, store: false }));
      const call = first.output.find((i) => i.type === 'function_call');
      if (!call) throw new Error('no function_call: ' + JSON.stringify(first));
      input.push(...first.output, { type: 'function_call_output', call_id: call.call_id, output: run(JSON.parse(call.arguments).command) });
      return completed(await client.responses.create({ model: spec.model, input, tools: responsesTools, store: false })).output_text;
    }
    case 'object': {
      const r = completed(await client.responses.create({ model: spec.model, input: c.prompt, text: { format: {
        type: 'json_schema', name: 'filled', strict: true,
        schema: { type: 'object', properties: { marker: { type: 'string' }, count: { type: 'number' } }, required: ['marker', 'count'], additionalProperties: false },
      } } }));
      return JSON.stringify(JSON.parse(r.output_text));
    }
  }
  throw new Error('unknown kind ' + c.kind);
}

for (const c of spec.checks) {
  const out = { name: c.name, id: c.id };
  try {
    out.text = await (c.provider === 'responses' ? responses(c) : chat(c));
  } catch (e) {
    out.error = [String(e?.stack ?? e), e?.status && `HTTP ${e.status}`, e?.error && JSON.stringify(e.error)].filter(Boolean).join('\n');
  }
  console.log(JSON.stringify(out));
}
