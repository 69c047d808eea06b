// The AI SDK through modelbar: the providers come from the module
// backend/connect renders (spec.module); each check prints one JSON line
// {name, id, text, error}.
import { generateText, streamText, generateObject, tool, stepCountIs } from 'ai';
import { z } from 'zod';
import { execSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

const spec = JSON.parse(process.argv[2]);
const m = await import(pathToFileURL(spec.module).href);
const providers = {
  'openai-compatible': (id) => m.modelbar(id),
  anthropic: (id) => m.modelbarAnthropic(id),
  'openai-chat': (id) => m.modelbarOpenAI.chat(id),
  'openai-responses': (id) => m.modelbarOpenAI(id),
};
const bash = tool({
  description: 'Run a shell command and return its output',
  inputSchema: z.object({ command: z.string() }),
  execute: async ({ command }) => execSync(command, { encoding: 'utf8', shell: '/bin/sh' }) || 'done',
});

function describe(e) {
  return [String(e?.stack ?? e), e?.statusCode && `HTTP ${e.statusCode}`, e?.responseBody].filter(Boolean).join('\n');
}

for (const c of spec.checks) {
  const model = providers[c.provider](spec.model);
  const out = { name: c.name, id: c.id };
  try {
    switch (c.kind) {
      case 'text':
        out.text = (await generateText({ model, prompt: c.prompt, maxRetries: 0 })).text;
        break;
      case 'stream': {
        let failure;
        const r = streamText({ model, prompt: c.prompt, maxRetries: 0, onError: ({ error }) => { failure = error; } });
        let text = '';
        for await (const d of r.textStream) text += d;
        if (failure) throw failure;
        out.text = text;
        break;
      }
      case 'tool':
        out.text = (await generateText({ model, prompt: c.prompt, tools: { bash }, stopWhen: stepCountIs(4), maxRetries: 0 })).text;
        break;
      case 'object': {
        const r = await generateObject({ model, schema: z.object({ marker: z.string(), count: z.number() }), prompt: c.prompt, maxRetries: 0 });
        out.text = JSON.stringify(r.object);
        break;
      }
      default:
        throw new Error('unknown kind ' + c.kind);
    }
  } catch (e) {
    out.error = describe(e);
  }
  console.log(JSON.stringify(out));
}
