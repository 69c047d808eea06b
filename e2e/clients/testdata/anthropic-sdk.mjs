// The Anthropic SDK through modelbar, configured by ANTHROPIC_BASE_URL and
// ANTHROPIC_API_KEY alone (as backend/connect renders them): a streamed
// text answer, and a tool round trip. One JSON line per check.
import Anthropic from '@anthropic-ai/sdk';
import { execSync } from 'node:child_process';

const spec = JSON.parse(process.argv[2]);
const client = new Anthropic({ maxRetries: 0 });
const tools = [{ name: 'bash', description: 'Run a shell command',
  input_schema: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } }];

for (const c of spec.checks) {
  const out = { name: c.name, id: c.id };
  try {
    if (c.kind === 'stream') {
      const stream = client.messages.stream({ model: spec.model, max_tokens: 256, messages: [{ role: 'user', content: c.prompt }] });
      const msg = await stream.finalMessage();
      out.text = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    } else if (c.kind === 'tool') {
      const messages = [{ role: 'user', content: c.prompt }];
      const first = await client.messages.create({ model: spec.model, max_tokens: 256, messages, tools });
      const call = first.content.find((b) => b.type === 'tool_use');
      if (!call) throw new Error('no tool_use: ' + JSON.stringify(first));
      const result = execSync(call.input.command, { encoding: 'utf8', shell: '/bin/sh' }) || 'done';
      messages.push({ role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: result }] });
      const final = await client.messages.create({ model: spec.model, max_tokens: 256, messages, tools });
      out.text = final.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    } else throw new Error('unknown kind ' + c.kind);
  } catch (e) {
    out.error = String(e?.stack ?? e);
  }
  console.log(JSON.stringify(out));
}
