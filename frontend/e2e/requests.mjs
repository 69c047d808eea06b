// Browser checks of the request log, the settings' defaults and the memory
// budget warning (issue 14, items 7 and 8), run at the end of run.mjs's
// scenario with its modelbar, fake provider and page:
//
// - a stream the client stops shows as cancelled (499) with the tokens it
//   was sent;
// - a route to a dead provider with the fake as fallback: clicking its row
//   opens the drawer with the failover chain, each step's status and reason;
// - the errors, failovers and backend filters, and the per-backend totals;
// - the settings show their real defaults, not 0;
// - a memory budget below a pinned model's size is saved with a warning.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readToken, repoDir, uiLink } from './harness.mjs';

/** A base URL where nothing listens: listen, note the port, close. */
async function deadURL() {
  const srv = createServer();
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return `http://127.0.0.1:${port}/v1`;
}

/**
 * Writes a generated model of a few MiB (testmodel: 8192 x 128 bfloat16
 * embeddings and output head) to dir, with a throw-away Go program.
 */
function writeSmallModel(dir) {
  const mod = mkdtempSync(join(tmpdir(), 'modelbar-e2e-model-'));
  try {
    const goVersion = /^go\s+(\S+)/m.exec(readFileSync(join(repoDir, 'go.mod'), 'utf8'))?.[1] ?? '1.26';
    writeFileSync(join(mod, 'go.mod'), `module smallmodel\n\ngo ${goVersion}\n\nrequire github.com/modelbar/modelbar v0.0.0\n\nreplace github.com/modelbar/modelbar => ${repoDir}\n`);
    copyFileSync(join(repoDir, 'go.sum'), join(mod, 'go.sum'));
    writeFileSync(join(mod, 'main.go'), `package main

import (
	"os"

	"github.com/modelbar/modelbar/backend/engine/modelfile/testmodel"
)

func main() {
	if err := testmodel.Write(os.Args[1], testmodel.Spec{Architecture: "qwen2", HiddenSize: 128, VocabSize: 8192, Seed: 7}); err != nil {
		panic(err)
	}
}
`);
    const env = { ...process.env, GOFLAGS: '-mod=mod' };
    execFileSync('go', ['mod', 'tidy'], { cwd: mod, env, stdio: 'inherit' });
    execFileSync('go', ['run', '.', dir], { cwd: mod, env, stdio: 'inherit' });
  } finally {
    rmSync(mod, { recursive: true, force: true });
  }
}

/** Streams a chat answer from modelbar and stops after `events` content chunks, as a client's Stop does. */
async function streamAndStop(base, model, events) {
  const ctl = new AbortController();
  const res = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'Tell me a long story about '.repeat(8) + 'a lighthouse' }] }),
    signal: ctl.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  let seen = 0;
  while (seen < events) {
    const { value, done } = await reader.read();
    assert.ok(!done, 'the stream ended before the client stopped it');
    text += dec.decode(value, { stream: true });
    seen = (text.match(/"content":"[^"]+"/g) ?? []).length;
  }
  ctl.abort();
  await reader.cancel().catch(() => {});
  return seen;
}

export async function run({ page, api, base, mb, tid, nav, shot, step }) {
  step('requests: sign in again (the scenario rotated the admin token)');
  mb.token = readToken(mb);
  await page.goto(uiLink(mb));
  await tid('nav-requests').waitFor();

  step('requests: a route to a dead provider with the fake as fallback, and a stream the client stops');
  assert.equal((await api('PUT', '/api/settings', { max_retries: -1 })).status, 200, 'one try per backend: a short chain');
  const put = await api('PUT', '/api/providers/dead', { type: 'openai', base_url: await deadURL() });
  assert.ok([200, 201].includes(put.status), `put provider dead: ${put.status}`);
  for (const r of [
    { model_pattern: 'via-dead', backend: 'dead', backend_model: 'fake-small', fallbacks: ['fake'] },
    { model_pattern: 'only-dead', backend: 'dead', backend_model: '', fallbacks: [] },
    { model_pattern: 'stop-me', backend: 'fake', backend_model: 'fake-large', fallbacks: [] },
  ]) {
    const res = await api('POST', '/api/routes', { ...r, priority: 0, enabled: true });
    assert.equal(res.status, 201, `route ${r.model_pattern}: ${JSON.stringify(res.body)}`);
  }
  const viaDead = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'via-dead', messages: [{ role: 'user', content: 'a secret prompt' }] }),
  });
  assert.equal(viaDead.status, 200);
  assert.equal(viaDead.headers.get('x-modelbar-fallback-from'), 'dead');
  await viaDead.text();
  const onlyDead = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'only-dead', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(onlyDead.status, 502);
  await onlyDead.text();
  const chunks = await streamAndStop(base, 'stop-me', 5);

  step('requests: the stopped stream is cancelled (499) with its tokens');
  await nav('requests');
  const stopped = page.locator('[data-testid="request-row"][data-model="stop-me"]');
  await stopped.first().waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="request-row"][data-model="stop-me"]')?.dataset.status === '499', null, { timeout: 10000 });
  await stopped.getByTestId('request-cancelled').getByText('cancelled').waitFor();
  const [, out] = (await stopped.getByTestId('request-tokens').textContent()).split('/').map((s) => parseInt(s.replace(/[^\d]/g, ''), 10));
  assert.ok(out >= chunks - 1, `output tokens ${out} for ${chunks} chunks seen`);
  const logged = (await api('GET', '/api/requests?limit=20')).body.find((e) => e.model === 'stop-me');
  assert.equal(logged.status, 499);
  assert.equal(logged.output_tokens_source, 'estimated');
  assert.ok(logged.output_tokens > 0);

  step('requests: clicking a row opens the drawer with the failover chain');
  const failed = page.locator('[data-testid="request-row"][data-model="via-dead"]').first();
  await failed.locator('td').nth(1).click();
  const drawer = tid('request-drawer');
  await drawer.waitFor();
  await drawer.getByTestId('drawer-route').getByText('via-dead').waitFor();
  const steps = drawer.getByTestId('chain-step');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="chain-step"]').length === 2);
  assert.deepEqual(await steps.evaluateAll((ls) => ls.map((l) => [l.dataset.backend, l.dataset.outcome])), [
    ['dead', 'failed'],
    ['fake', 'answered'],
  ]);
  const deadStep = await steps.first().textContent();
  assert.match(deadStep, /502/);
  assert.match(deadStep, /Nothing is listening on 127.0.0.1:\d+/); // plain words, not a dial error
  assert.ok(!(await drawer.textContent()).includes('secret prompt'), 'no prompt in the drawer');
  await shot('requests-drawer');
  await page.keyboard.press('Escape');
  await drawer.waitFor({ state: 'detached' });
  // The keyboard way in: the row's button.
  await failed.getByTestId('request-open').focus();
  await page.keyboard.press('Enter');
  await tid('request-drawer').waitFor();
  await tid('request-drawer-close').click();
  await tid('request-drawer').waitFor({ state: 'detached' });

  step('requests: filters for errors, failovers and backends');
  const statuses = () => page.locator('[data-testid="request-row"]').evaluateAll((rs) => rs.map((r) => [r.dataset.model, Number(r.dataset.status), r.dataset.backend]));
  await tid('requests-failovers').check();
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="request-row"]')].every((r) => r.querySelector('[data-testid="request-fallback"]')) && document.querySelectorAll('[data-testid="request-row"]').length > 0);
  assert.ok((await statuses()).some(([m]) => m === 'via-dead'));
  await tid('requests-failovers').uncheck();
  await tid('requests-errors').check();
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="request-row"]')];
    return rows.length > 0 && rows.every((r) => Number(r.dataset.status) >= 400 && Number(r.dataset.status) !== 499);
  });
  await tid('requests-errors').uncheck();
  await tid('requests-backend').selectOption('dead');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('[data-testid="request-row"]')];
    return rows.length > 0 && rows.every((r) => r.dataset.model === 'via-dead' || r.dataset.backend === 'dead');
  });
  await tid('requests-backend').selectOption('');
  await page.locator('[data-testid="request-row"][data-model="stop-me"]').waitFor();

  step('requests: totals per backend for the last hour and day');
  const fakeTotals = page.locator('[data-testid="totals-row"][data-backend="fake"]');
  await fakeTotals.waitFor();
  assert.ok(parseInt(await fakeTotals.getByTestId('totals-requests').textContent(), 10) >= 2);
  await tid('totals-day').click();
  await fakeTotals.waitFor();
  await shot('requests-totals');

  step('requests: the table scrolls inside its panel at 720 px');
  await page.setViewportSize({ width: 720, height: 780 });
  const fit = await tid('requests-table').evaluate((t) => {
    const wrap = t.closest('.table-wrap');
    const panel = wrap.parentElement.getBoundingClientRect();
    return { overflow: getComputedStyle(wrap).overflowX, wrapRight: wrap.getBoundingClientRect().right, panelRight: panel.right, scrolls: wrap.scrollWidth > wrap.clientWidth };
  });
  assert.equal(fit.overflow, 'auto');
  assert.ok(fit.wrapRight <= fit.panelRight + 1, `the table's box ends at ${fit.wrapRight}, its panel at ${fit.panelRight}`);
  await shot('requests-narrow');
  await page.setViewportSize({ width: 1240, height: 780 });

  step('settings: real defaults, not 0; the timeouts folded away');
  await nav('status');
  for (const [key, want] of [
    ['max_retries', null], // set to -1 above: a value, not the default
    ['cooldown_seconds', '30 (default)'],
    ['request_log_retention_days', '30 (default)'],
    ['max_connections', null],
  ]) {
    const input = tid('setting-' + key);
    assert.ok(Number(await input.getAttribute('data-default')) > 0, `${key} has a default above 0`);
    if (want) assert.equal(await input.getAttribute('placeholder'), want);
  }
  assert.equal(await tid('setting-max_retries').inputValue(), '-1');
  assert.equal(await tid('setting-cooldown_seconds').inputValue(), '', 'at its default: empty, the default as placeholder');
  assert.equal(await tid('setting-request_timeout_seconds').isVisible(), false, 'timeouts folded away');
  await tid('settings-advanced').locator('summary').click();
  assert.equal(await tid('setting-request_timeout_seconds').getAttribute('placeholder'), '600 (default)');
  await tid('settings-advanced').scrollIntoViewIfNeeded();
  await shot('settings-defaults');
  const settings = (await api('GET', '/api/settings')).body;
  assert.ok(settings.effective.memory_budget_mb > 0, 'the memory budget in force is the machine-derived one');
  assert.equal(settings.effective.max_retries, -1);

  step('models: sizes in MiB; a budget below a pinned model warns');
  writeSmallModel(join(mb.dataDir, 'models', 'test', 'small'));
  // The engine rescans its model dirs when the list is asked for, at most every few seconds.
  for (const until = Date.now() + 20000; !(await api('GET', '/api/models')).body.some((m) => m.id === 'test/small'); ) {
    assert.ok(Date.now() < until, 'the new model is not listed within 20 s');
    await new Promise((ok) => setTimeout(ok, 250));
  }
  const load = await api('POST', '/api/models/load', { model: 'test/small', pin: true });
  assert.equal(load.status, 200, JSON.stringify(load.body));
  await nav('models');
  const row = page.locator('[data-testid="model-row"][data-model="test/small"]');
  await row.waitFor();
  assert.match(await row.textContent(), /\d MiB/);
  assert.match(await tid('budget-total').textContent(), /(MiB|GiB)$/);
  assert.equal(await tid('settings-memory-budget').inputValue(), '');
  assert.match(await tid('settings-memory-budget').getAttribute('placeholder'), /(MiB|GiB) \(default\)$/);
  await tid('settings-memory-budget').fill('1');
  await tid('settings-memory-save').click();
  await tid('memory-warning').getByText('below what pinned models hold').waitFor();
  assert.equal((await api('GET', '/api/settings')).body.memory_budget_mb, 1, 'saved, not refused');
  await shot('models-budget-warning');
  await tid('settings-memory-budget').fill('');
  await tid('settings-memory-save').click();
  await tid('memory-warning').waitFor({ state: 'detached' });
  assert.equal((await api('POST', '/api/models/unload', { model: 'test/small' })).status, 200);
  assert.equal((await api('PUT', '/api/settings', { max_retries: 0 })).status, 200);
}
