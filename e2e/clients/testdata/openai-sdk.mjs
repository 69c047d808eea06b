// The OpenAI SDK through modelbar, configured by OPENAI_BASE_URL and
// OPENAI_API_KEY alone (as backend/connect renders them): a streamed text
// answer, and a tool round trip. One JSON line per check.
import OpenAI from 'openai';
import { execSync } from 'node:child_process';

const spec = JSON.parse(process.argv[2]);
const client = new OpenAI({ maxRetries: 0 });
const tools = [{ type: 'function', function: { name: 'bash', description: 'Run a shell command',
  parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } } }];

for (const c of spec.checks) {
  const out = { name: c.name, id: c.id };
  try {
    if (c.kind === 'stream') {
      const stream = await client.chat.completions.create({ model: spec.model, stream: true, messages: [{ role: 'user', content: c.prompt }] });
      out.text = '';
      for await (const chunk of stream) out.text += chunk.choices[0]?.delta?.content ?? '';
    } else if (c.kind === 'tool') {
      const messages = [{ role: 'user', content: c.prompt }];
      const first = await client.chat.completions.create({ model: spec.model, messages, tools });
      const call = first.choices[0].message.tool_calls?.[0];
      if (!call) throw new Error('no tool call: ' + JSON.stringify(first));
      const result = execSync(JSON.parse(call.function.arguments).command, { encoding: 'utf8', shell: '/bin/sh' }) || 'done';
      messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: result });
      out.text = (await client.chat.completions.create({ model: spec.model, messages, tools })).choices[0].message.content;
    } else throw new Error('unknown kind ' + c.kind);
  } catch (e) {
    out.error = String(e?.stack ?? e);
  }
  console.log(JSON.stringify(out));
}
