// The pieces the browser test stands on: a fake OpenAI-compatible provider,
// the real modelbar binary (given or built), and process clean-up.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const frontendDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = resolve(frontendDir, '..');

const cleanups = [];

/** Registers f to run at exit, last registered first. */
export function onCleanup(f) {
  cleanups.push(f);
}

let cleaning = null;
export async function cleanup() {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const f = cleanups.pop();
      try {
        await f();
      } catch (err) {
        console.error('cleanup:', err?.message ?? err);
      }
    }
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    console.error(`\ne2e: ${sig}, cleaning up`);
    await cleanup();
    process.exit(130);
  });
}

export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'modelbar-e2e-'));
  onCleanup(() => {
    if (process.env.E2E_KEEP) console.log('e2e: kept', dir);
    else rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

// ---- the fake provider --------------------------------------------------------

/**
 * An OpenAI-compatible provider: GET /v1/models, POST /v1/chat/completions
 * whole or streamed (SSE, one word every `delayMs`, usage when asked). The
 * model "fail-503" answers 503 (to make the gateway fail over). For the
 * chat's checks: "always-429" answers 429 with Retry-After: 1;
 * "rate-limited-once" answers so every other call; "slow-start" waits 1.5 s
 * before it answers; "fake-markdown" answers with a heading, a table and a
 * code block; "fake-tool" answers with a tool call.
 */
const markdownAnswer = [
  '## Fake results',
  '',
  '| city | temp |',
  '|------|-----:|',
  '| Paris | 21 |',
  '| Oslo | 12 |',
  '',
  '```python',
  'def hello():',
  '    return "<b>world</b>"',
  '```',
  '',
  'Done.',
].join('\n');

export async function startFakeProvider({ delayMs = 90 } = {}) {
  const seen = []; // {method, path, auth, model, stream}
  const counts = {}; // chat calls per model
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const auth = req.headers.authorization ?? '';
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/v1/models') {
      seen.push({ method: 'GET', path: url.pathname, auth });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: ['fake-small', 'fake-large'].map((id) => ({ id, object: 'model', owned_by: 'fake' })) }));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/chat/completions') {
      let r;
      try {
        r = JSON.parse(body);
      } catch {
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end('{"error":{"message":"bad json","type":"invalid_request_error"}}');
        return;
      }
      seen.push({ method: 'POST', path: url.pathname, auth, model: r.model, stream: !!r.stream });
      if (r.model === 'fail-503') {
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end('{"error":{"message":"the fake is down for this model","type":"server_error"}}');
        return;
      }
      const calls = (counts[r.model] = (counts[r.model] ?? 0) + 1);
      if (r.model === 'always-429' || (r.model === 'rate-limited-once' && calls % 2 === 1)) {
        res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': '1' });
        res.end('{"error":{"message":"slow down","type":"rate_limit_error"}}');
        return;
      }
      if (r.model === 'slow-start') await new Promise((ok) => setTimeout(ok, 1500));
      const last = [...(r.messages ?? [])].reverse().find((m) => m.role === 'user');
      const text = r.model === 'fake-markdown' ? markdownAnswer : `Hello from the fake provider (${r.model}). You said: ${last?.content ?? ''}`;
      const words = text.split(/(?<= )/);
      const id = 'chatcmpl-fake' + seen.length;
      const created = Math.floor(Date.now() / 1000);
      const usage = { prompt_tokens: 7, completion_tokens: words.length, total_tokens: 7 + words.length };
      if (!r.stream) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({
          id, object: 'chat.completion', created, model: r.model,
          choices: [{ index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' }], usage,
        }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      const send = (o) => res.write(`data: ${JSON.stringify(o)}\n\n`);
      const chunk = (delta, finish = null) => ({ id, object: 'chat.completion.chunk', created, model: r.model, choices: [{ index: 0, delta, finish_reason: finish }] });
      send(chunk({ role: 'assistant', content: '' }));
      if (r.model === 'fake-tool') {
        send(chunk({ tool_calls: [{ index: 0, id: 'call_e2e', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
        for (const part of ['{"city":', '"Paris",', '"unit":"C"}']) {
          await new Promise((ok) => setTimeout(ok, delayMs));
          send(chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] }));
        }
        send(chunk({}, 'tool_calls'));
        res.end('data: [DONE]\n\n');
        return;
      }
      for (const w of words) {
        await new Promise((ok) => setTimeout(ok, delayMs));
        send(chunk({ content: w }));
      }
      send(chunk({}, 'stop'));
      if (r.stream_options?.include_usage) send({ id, object: 'chat.completion.chunk', created, model: r.model, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  onCleanup(() => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/v1`, seen };
}

// ---- the modelbar binary -----------------------------------------------------

function run(cmd, args, opts = {}) {
  console.log(`e2e: $ ${cmd} ${args.join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}`);
  execFileSync(cmd, args, { stdio: 'inherit', ...opts });
}

/**
 * The modelbar binary to test: $MODELBAR_BIN, or one built from this tree
 * with the UI embedded. When main.go embeds frontend/dist (the desktop
 * build), that is `go build .` at the repository root; before that lands, a
 * throw-away main package in a temp dir embeds dist/ and calls the same cli.
 */
export function modelbarBinary(tmp) {
  if (process.env.MODELBAR_BIN) return resolve(process.env.MODELBAR_BIN);
  if (!process.env.E2E_SKIP_NPM_BUILD) run('npm', ['run', 'build', '--silent'], { cwd: frontendDir });
  const out = join(tmp, 'modelbar');
  const mainGo = readFileSync(join(repoDir, 'main.go'), 'utf8') + (existsSync(join(repoDir, 'embed.go')) ? readFileSync(join(repoDir, 'embed.go'), 'utf8') : '');
  if (/go:embed\s+(all:)?frontend\/dist/.test(mainGo)) {
    run('go', ['build', '-o', out, '.'], { cwd: repoDir });
    return out;
  }
  // The root main package does not embed the UI yet: wrap the cli ourselves.
  const mod = join(tmp, 'wrap');
  mkdirSync(mod);
  cpSync(join(frontendDir, 'dist'), join(mod, 'dist'), { recursive: true });
  const goVersion = /^go\s+(\S+)/m.exec(readFileSync(join(repoDir, 'go.mod'), 'utf8'))?.[1] ?? '1.26';
  writeFileSync(join(mod, 'go.mod'), `module modelbare2e\n\ngo ${goVersion}\n\nrequire github.com/modelbar/modelbar v0.0.0\n\nreplace github.com/modelbar/modelbar => ${repoDir}\n`);
  cpSync(join(repoDir, 'go.sum'), join(mod, 'go.sum'));
  writeFileSync(join(mod, 'main.go'), `// A test-only entry point: modelbar's cli with the built UI embedded.
package main

import (
	"context"
	"embed"
	"io/fs"
	"os"

	"github.com/modelbar/modelbar/backend/cli"
)

//go:embed all:dist
var dist embed.FS

func main() {
	ui, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, UI: ui}))
}
`);
  run('go', ['mod', 'tidy'], { cwd: mod, env: { ...process.env, GOFLAGS: '-mod=mod' } });
  run('go', ['build', '-o', out, '.'], { cwd: mod });
  return out;
}

/**
 * Starts `modelbar serve` on a free port; resolves once it listens with its
 * address, the admin token (read from the data dir, for the test's own API
 * calls: the browser never gets it) and the login link it logged at start.
 */
export async function startModelbar(bin, tmp, env = {}) {
  const dataDir = join(tmp, 'data');
  const log = [];
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--data-dir', dataDir], {
    env: {
      ...process.env,
      MODELBAR_SECRETS: 'file',
      HF_HOME: join(tmp, 'hf'), // no models from the machine's cache: a stable screen
      MODELBAR_ADDR: '',
      MODELBAR_DATA_DIR: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  onCleanup(
    () =>
      new Promise((ok) => {
        if (exited) return ok();
        const t = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.once('exit', () => {
          clearTimeout(t);
          ok();
        });
        child.kill('SIGTERM');
      }),
  );
  const [addr, loggedLink] = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('modelbar did not report its address and a login link within 30 s:\n' + log.join(''))), 30000);
    const onData = (d) => {
      const s = d.toString();
      log.push(s);
      const all = log.join('');
      const m = /msg="?modelbar listening"? addr=http:\/\/(\S+)/.exec(all);
      const l = /msg="open the UI in a browser" url="?([^"\s]+)"?/.exec(all);
      if (m && l) {
        clearTimeout(timer);
        ok([m[1], l[1]]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`modelbar exited (${code}) before listening:\n` + log.join('')));
    });
  });
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  return { bin, addr, token, dataDir, log, child, loggedLink };
}

/**
 * Starts the fake Hugging Face Hub (frontend/e2e/fakehub: the repo's
 * backend/hub/hubtest with a tiny MLX model, its downloads throttled) and
 * resolves with its URL, for `modelbar serve`'s HF_ENDPOINT.
 */
export async function startFakeHub(tmp) {
  const bin = join(tmp, 'fakehub');
  run('go', ['build', '-o', bin, './frontend/e2e/fakehub'], { cwd: repoDir });
  const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => child.kill('SIGKILL'));
  const log = [];
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('the fake hub did not start within 30 s:\n' + log.join(''))), 30000);
    const onData = (d) => {
      log.push(d.toString());
      const m = /^fakehub (\S+)$/m.exec(log.join(''));
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => fail(new Error(`the fake hub exited (${code}):\n` + log.join(''))));
  });
  return { url, child };
}

/** A fresh one-time login link, as `modelbar ui --no-open` prints it (its only line). */
export function uiLink(mb) {
  const out = execFileSync(mb.bin, ['ui', '--no-open', '--addr', mb.addr, '--data-dir', mb.dataDir], {
    encoding: 'utf8',
    env: { ...process.env, MODELBAR_ADDR: '', MODELBAR_DATA_DIR: '' },
  });
  const lines = out.split('\n').filter(Boolean);
  if (lines.length !== 1 || !lines[0].startsWith(`http://${mb.addr}/ui/login?code=`)) throw new Error(`modelbar ui printed ${JSON.stringify(out)}`);
  return lines[0];
}

/** Reads the admin token again (after a rotation). */
export function readToken(mb) {
  return readFileSync(join(mb.dataDir, 'admin-token'), 'utf8').trim();
}
