// Browser checks of the route editor, the route tester and the Providers
// screen (issue 14, items 5 and 6), run at the end of run.mjs's scenario:
// the fallback editor offers no blank choice; a reorder sends only the PUTs
// of the routes whose priority must change; the tester highlights its row,
// warns of a model that does not exist, shows a cooldown on the chain and
// sends a real request through the fake provider; a provider test fails in
// plain words on a dead port; a tested provider's model is routed in one
// click, or aliased through the editor; a budget set in the editor caps
// its route with a 429 and shows its use in the list; a group of backends
// built in the editor is saved as targets and policy, its error shown at
// the member's field, listed in a line and boxed in the tester.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { uiLink } from './harness.mjs';

/** A port where nothing listens: listen, note it, close. */
async function deadPort() {
  const srv = createServer();
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

/** Serious and critical axe-core violations inside the element `selector`, in both themes. */
async function axeViolations(page, selector) {
  if (!(await page.evaluate(() => 'axe' in window))) {
    await page.addScriptTag({ path: createRequire(import.meta.url).resolve('axe-core/axe.min.js') });
  }
  const found = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(() => document.documentElement.removeAttribute('data-theme')); // follow the scheme
    const res = await page.evaluate((sel) => window.axe.run(sel, { resultTypes: ['violations'] }), selector);
    for (const v of res.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      // The app-wide badge colours are app.css's (its owner fixes their contrast): this area's own elements are checked.
      const nodes = v.nodes.filter((n) => !(v.id === 'color-contrast' && /class="[^"]*\bbadge\b/.test(n.html)));
      if (nodes.length) found.push(`${scheme}: ${v.id}: ${nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

export async function run({ page, api, mb, tid, nav, shot, step }) {
  const row = (pattern) => page.locator(`[data-testid="route-row"][data-pattern="${pattern}"]`);
  const provRow = (name) => page.locator(`[data-testid="provider-row"][data-name="${name}"]`);
  const order = async () => {
    await page.waitForFunction(() => !document.querySelector('[data-testid="routes-table"][aria-busy="true"]'));
    return page.locator('[data-testid="route-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pattern')));
  };
  const serverOrder = async () => (await api('GET', '/api/routes')).body.map((r) => r.model_pattern);

  step('routes+providers: sign in again');
  await page.goto(uiLink(mb));
  await tid('screen-routes').waitFor();

  // ---- Providers ----
  step('providers: a test on save fails in plain words on a dead port, and a URL without /v1 is warned about');
  const port = await deadPort();
  await nav('providers');
  const pdlg = tid('provider-dialog');
  await tid('provider-add').click();
  await tid('provider-preset').selectOption('ollama');
  await tid('provider-name').fill('deadllm');
  await tid('provider-base-url').fill(`http://127.0.0.1:${port}`);
  await tid('provider-save').click();
  await pdlg.waitFor({ state: 'hidden' });
  const dead = provRow('deadllm');
  await dead.getByTestId('provider-test-error').getByText(`Nothing is listening on 127.0.0.1:${port} — is the server running`).waitFor();
  assert.equal(await dead.getByTestId('provider-test-kind').innerText(), 'not running');
  assert.ok(!(await dead.getByTestId('provider-test-result').innerText()).includes('HTTP 502'), 'no "HTTP 502" label');
  await dead.locator('[data-testid="provider-warning"][data-field="base_url"]').getByText('has no /v1').waitFor();
  await shot('provider-test-failure');

  step('providers: a cloud preset without a key is saved, with a warning; the Anthropic preset names ANTHROPIC_API_KEY');
  const saved = await api('PUT', '/api/providers/groq-nokey', { type: 'openai', base_url: 'https://api.groq.com/openai/v1' });
  assert.equal(saved.status, 201);
  assert.deepEqual(saved.body.warnings.map((w) => w.field), ['api_key']);
  await page.reload();
  await tid('screen-providers').waitFor();
  await provRow('groq-nokey').locator('[data-testid="provider-warning"][data-field="api_key"]').getByText('Groq refuses requests without an API key').waitFor();

  step('providers: test results survive the reload (kept by the server, with their age); an untested keyless preset says why');
  await dead.getByTestId('provider-test-error').getByText(`Nothing is listening on 127.0.0.1:${port}`).waitFor();
  assert.equal(await dead.getByTestId('provider-test-kind').innerText(), 'not running');
  assert.match(await dead.getByTestId('provider-test-age').innerText(), /^tested (just now|\d+ s ago)$/);
  assert.equal(await provRow('groq-nokey').getByTestId('provider-untested').innerText(), 'not tested: no API key is set');
  const kept = (await api('GET', '/api/providers')).body.find((p) => p.name === 'deadllm').last_test;
  assert.equal(kept.ok, false);
  assert.equal(kept.code, 'connection_refused');

  step('providers: at 720 px the Connection column keeps its words whole');
  await page.setViewportSize({ width: 720, height: 780 });
  const conn = dead.getByTestId('provider-test-result');
  const connBox = await conn.boundingBox();
  assert.ok(connBox.width >= 180, `the Connection cell is ${connBox.width}px wide at 720 px`);
  // No word of the warning is split across lines: each line of the rendered text ends at a space.
  const split = await dead.locator('[data-testid="provider-warning"][data-field="base_url"]').evaluate((el) => {
    const r = document.createRange();
    const node = [...el.childNodes].filter((n) => n.nodeType === 3).pop(); // the message's text
    const broken = [];
    let lastTop = null;
    for (let i = 0; i < node.textContent.length; i++) {
      r.setStart(node, i);
      r.setEnd(node, i + 1);
      const top = Math.round(r.getBoundingClientRect().top);
      if (lastTop !== null && top > lastTop + 2 && /\S/.test(node.textContent[i - 1]) && /\S/.test(node.textContent[i])) broken.push(node.textContent.slice(Math.max(0, i - 8), i + 8));
      lastTop = top;
    }
    return broken;
  });
  assert.deepEqual(split, [], 'no word of the warning breaks across lines at 720 px');
  await shot('providers-narrow');
  await page.setViewportSize({ width: 1240, height: 780 });

  step('providers: Advanced shows Default max tokens empty, its default as placeholder');
  await dead.getByTestId('provider-edit').click();
  const adv = pdlg.getByRole('button', { name: 'Advanced' });
  if ((await adv.getAttribute('aria-expanded')) !== 'true') await adv.click();
  assert.equal(await tid('provider-max-tokens').inputValue(), '');
  assert.equal(await tid('provider-max-tokens').getAttribute('placeholder'), '4096 (default)');
  await page.keyboard.press('Escape');
  await pdlg.waitFor({ state: 'hidden' });
  await tid('provider-add').click();
  await tid('provider-preset').selectOption('anthropic');
  await pdlg.getByRole('button', { name: 'Advanced' }).click();
  assert.equal(await tid('provider-api-key-env').getAttribute('placeholder'), 'ANTHROPIC_API_KEY');
  await page.keyboard.press('Escape');
  await pdlg.waitFor({ state: 'hidden' });
  assert.equal((await api('DELETE', '/api/providers/groq-nokey')).status, 204);
  assert.equal((await api('DELETE', '/api/providers/deadllm')).status, 204);

  step("providers: a tested provider's models, one routed in one click, one aliased through the editor");
  const fakeRow = provRow('fake');
  await fakeRow.getByTestId('provider-test').click();
  await fakeRow.getByTestId('provider-models-toggle').click();
  const models = page.locator('[data-testid="provider-models"][data-name="fake"]');
  await models.locator('[data-testid="provider-model"]').first().waitFor();
  assert.deepEqual(await models.locator('[data-testid="provider-model"]').evaluateAll((ms) => ms.map((m) => m.dataset.model)), ['fake-small', 'fake-large']);
  const large = models.locator('[data-testid="provider-model"][data-model="fake-large"]');
  await large.getByRole('button', { name: 'Route this model: fake-large to fake' }).click();
  await large.getByRole('button', { name: 'Routed: fake-large to fake' }).waitFor();
  const exact = (await api('GET', '/api/routes')).body.filter((r) => r.model_pattern === 'fake-large');
  assert.deepEqual(exact.map((r) => [r.backend, r.backend_model]), [['fake', '']], 'one exact route to fake');
  await shot('provider-models');
  assert.deepEqual(await axeViolations(page, '[data-testid="screen-providers"]'), [], 'axe: the Providers screen');
  await models.locator('[data-testid="provider-model"][data-model="fake-small"]').getByRole('button', { name: 'Add an alias for fake-small' }).click();
  await tid('screen-routes').waitFor();
  const rdlg = tid('route-dialog');
  await rdlg.waitFor();
  assert.equal(await tid('route-backend').inputValue(), 'fake');
  assert.equal(await tid('route-backend-model').inputValue(), 'fake-small');
  await tid('route-pattern').fill('tiny');
  await tid('route-save').click();
  await rdlg.waitFor({ state: 'hidden' });
  await row('tiny').waitFor();

  step('routes: a budget set in the editor caps the route with a 429, and the list shows its use');
  await row('tiny').getByTestId('route-edit').click();
  await rdlg.waitFor();
  assert.equal(await tid('route-max-rpm').inputValue(), '', 'no budget: empty');
  await tid('route-max-rpm').fill('1');
  await tid('route-save').click();
  await rdlg.waitFor({ state: 'hidden' });
  const tiny = (await api('GET', '/api/routes')).body.find((r) => r.model_pattern === 'tiny');
  assert.deepEqual([tiny.max_requests_per_minute, tiny.max_tokens_per_day], [1, null]);
  const ask = () =>
    fetch(`http://${mb.addr}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }] }),
    });
  assert.equal((await ask()).status, 200);
  const capped = await ask();
  assert.equal(capped.status, 429, 'over the budget');
  assert.ok(Number(capped.headers.get('retry-after')) >= 1, 'with Retry-After');
  assert.equal((await capped.json()).error.type, 'rate_limit_error');
  await row('tiny').getByTestId('route-budget').getByText('1/1 per min').waitFor();
  const clear = await api('PUT', `/api/routes/${tiny.id}`, { max_requests_per_minute: null });
  assert.equal(clear.status, 200, JSON.stringify(clear.body));
  await row('tiny').getByTestId('route-budget').waitFor({ state: 'detached' });

  step('routes: a group built in the editor: members, weighted policy, an error at its member, the list and the tester');
  await tid('route-add').click();
  await rdlg.waitFor();
  await tid('route-pattern').fill('grp');
  await tid('route-backend').selectOption('fake');
  await tid('route-backend-model').fill('fake-small');
  assert.equal(await tid('route-policy').count(), 0, 'one backend: no policy');
  await tid('route-member-add').click();
  const group = tid('route-group');
  await group.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'rt-backend-1', 'focus on the new member');
  await page.getByLabel('Backend 2', { exact: true }).selectOption('fake');
  await page.getByLabel('Backend 2: send as (model)').fill('fake-large');
  assert.equal(await tid('route-weight-0').count(), 0, 'no weights for first available');
  await page.getByLabel('Share requests').selectOption('weighted');
  await tid('route-affinity-note').waitFor();
  await page.getByLabel('Backend 1: weight').fill('2');
  await page.getByLabel('Backend 2: weight').fill('5000');
  await tid('route-max-context').fill('32768');
  await tid('route-save').click();
  await tid('error-targets-1-weight').waitFor();
  assert.equal(await tid('route-weight-1').getAttribute('aria-invalid'), 'true');
  await shot('route-editor-group');
  assert.deepEqual(await axeViolations(page, '[data-testid="route-dialog"]'), [], 'axe: the route editor with a group');
  await page.getByLabel('Backend 2: weight').fill('1');
  await tid('route-save').click();
  await rdlg.waitFor({ state: 'hidden' });
  const grp = (await api('GET', '/api/routes')).body.find((r) => r.model_pattern === 'grp');
  assert.deepEqual(
    [grp.backend, grp.backend_model, grp.policy, grp.max_context, grp.targets],
    ['fake', 'fake-small', 'weighted', 32768, [{ backend: 'fake', model: 'fake-small', weight: 2 }, { backend: 'fake', model: 'fake-large', weight: 1 }]],
  );
  assert.equal(await row('grp').getByTestId('route-group-cell').getAttribute('data-label'), 'fake:fake-small ×2, fake:fake-large ×1 · weighted');
  const groupTester = tid('route-tester-input');
  await groupTester.fill('grp');
  const boxed = tid('route-tester-group');
  await boxed.waitFor();
  assert.equal(await tid('route-tester-policy').innerText(), 'Weighted');
  assert.deepEqual(
    await boxed.getByTestId('route-tester-step').evaluateAll((ss) => ss.map((s) => s.textContent.replace(/\s+/g, ' ').trim())),
    ['fake ×2 fake-small', 'fake ×1 fake-large'],
  );
  await tid('route-tester-try').click();
  const groupTried = tid('route-tester-try-result');
  await groupTried.and(page.locator('[data-ok="true"]')).waitFor({ timeout: 20000 });
  assert.match(await groupTried.innerText(), /fake-(small|large) at fake answered in/);
  await shot('routes-group');
  await groupTester.fill('');

  step('routes: a group cut down to one backend in the editor is one backend again');
  await row('grp').getByTestId('route-edit').click();
  await rdlg.waitFor();
  assert.equal(await page.getByLabel('Backend 1: weight').inputValue(), '2');
  await page.getByRole('button', { name: 'Remove backend fake:fake-small' }).click();
  await group.waitFor({ state: 'detached' });
  assert.equal(await tid('route-backend-model').inputValue(), 'fake-large');
  await page.getByLabel('Share requests').waitFor({ state: 'detached' });
  await tid('route-save').click();
  await rdlg.waitFor({ state: 'hidden' });
  const one = (await api('GET', '/api/routes')).body.find((r) => r.model_pattern === 'grp');
  assert.deepEqual([one.backend, one.backend_model, one.targets.length], ['fake', 'fake-large', 1]);
  await row('grp').getByTestId('route-group-cell').waitFor({ state: 'detached' });
  assert.equal((await api('DELETE', `/api/routes/${grp.id}`)).status, 204);
  await row('grp').waitFor({ state: 'detached' });

  // ---- Route editor ----
  step('routes: the fallback editor has no blank choice, suggests models, and refuses what the server would');
  await tid('route-add').click();
  await rdlg.waitFor();
  await tid('route-pattern').fill('editor-check');
  await tid('route-backend').selectOption('fake');
  await page.waitForFunction(() => document.querySelectorAll('#rt-model-list option').length === 2); // fake's models
  const fbSelect = tid('route-fallback-backend');
  const options = await fbSelect.locator('option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(options.length > 0 && options.every((v) => v !== ''), `no blank option: ${options}`);
  assert.equal(await fbSelect.inputValue(), 'local', 'the first free backend is chosen, visibly');
  await tid('route-fallback-add').click();
  assert.deepEqual(await tid('route-fallback-entry').allInnerTexts().then((ts) => ts.map((t) => t.split('\n').filter(Boolean)[1])), ['local']);
  assert.equal(await fbSelect.inputValue(), 'backup', 'then the next free one');
  await fbSelect.selectOption('fake');
  assert.equal(await tid('route-fallback-add').isDisabled(), true, "the route's own backend needs another model");
  await tid('route-fallback-why').getByText("already the route's backend").waitFor();
  await tid('route-fallback-model').fill('fake-large');
  await tid('route-fallback-add').click();
  assert.equal(await tid('route-fallback-entry').count(), 2);
  await tid('route-backend-model').fill('no-such-model');
  await tid('route-model-unknown').getByText('fake does not list a model named no-such-model').waitFor();
  await shot('route-editor-fallbacks');
  await page.keyboard.press('Escape');
  await rdlg.waitFor({ state: 'hidden' });
  assert.ok(!(await serverOrder()).includes('editor-check'), 'cancelled: nothing saved');

  step('routes: reordering sends a PUT only for each route whose priority must change');
  const puts = [];
  const onRequest = (req) => {
    if (req.method() === 'PUT' && /\/api\/routes\/\d+$/.test(new URL(req.url()).pathname)) puts.push(req.url());
  };
  page.on('request', onRequest);
  const before = (await api('GET', '/api/routes')).body;
  const shown = await order();
  assert.deepEqual(shown, before.map((r) => r.model_pattern));
  const last = shown.at(-1);
  await row(last).getByTestId('route-grip').dragTo(row(shown[0]));
  await page.waitForFunction((p) => document.querySelector('[data-testid="route-row"]')?.getAttribute('data-pattern') === p, last);
  const afterDrag = (await api('GET', '/api/routes')).body;
  assert.deepEqual(afterDrag.map((r) => r.model_pattern), [last, ...shown.slice(0, -1)], 'the server evaluates the dragged order');
  const changed = (a, b) => b.filter((r) => a.find((x) => x.id === r.id).priority !== r.priority).length;
  assert.equal(puts.length, 1, `one PUT for a drag to the top, got ${puts.length}`);
  assert.equal(changed(before, afterDrag), 1, 'one priority changed');

  puts.length = 0;
  await row(last).getByTestId('route-grip').focus();
  await page.keyboard.press('Alt+ArrowDown');
  await page.waitForFunction((p) => document.querySelectorAll('[data-testid="route-row"]')[1]?.getAttribute('data-pattern') === p, last);
  const afterKey = (await api('GET', '/api/routes')).body;
  assert.deepEqual(afterKey.map((r) => r.model_pattern), shown.slice(0, 1).concat([last], shown.slice(1, -1)));
  assert.equal(puts.length, changed(afterDrag, afterKey), 'a PUT per changed priority, no more');
  assert.equal(puts.length, 1, 'one route moves for a swap at the top');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-pattern')), last, 'focus stays on the moved row');
  await tid('route-moved').getByText(`Moved ${last} to position 2`).waitFor();
  page.off('request', onRequest);

  // ---- Route tester ----
  step('routes: the tester highlights the matched row and warns of a model that does not exist');
  const tester = tid('route-tester-input');
  await tester.fill('fast');
  await row('fast').and(page.locator('[data-matched="true"]')).waitFor();
  assert.equal(await page.locator('[data-testid="route-row"][data-matched="true"]').count(), 1);
  await tester.fill('gpt-4o');
  await tid('route-tester-route').getByText('no route').waitFor();
  await page.locator('[data-testid="route-tester-warning"][data-code="model_not_found"]').getByText('there is no local model named "gpt-4o"').waitFor();
  assert.equal(await page.locator('[data-testid="route-row"][data-matched="true"]').count(), 0);

  step('routes: the tester sends a real request through the fake provider');
  await tester.fill('fast');
  await tid('route-tester-route').getByText('fast', { exact: true }).waitFor();
  await tid('route-tester-try').click();
  const tried = tid('route-tester-try-result');
  await tried.and(page.locator('[data-ok="true"]')).waitFor({ timeout: 20000 });
  await tid('route-tester-try-text').getByText('Hello from the fake provider (fake-small)').waitFor();
  assert.match(await tried.innerText(), /fake-small at fake answered in/); // the model too: a route may fail over between two models of one provider
  await shot('routes-tester');
  // Only what this area draws: the tester and the table (app-wide colours are the shell's).
  assert.deepEqual(await axeViolations(page, '[data-testid="screen-routes"]'), [], 'axe: the Routes screen');

  step('routes: a failing backend cools down, and the chain shows it');
  assert.equal((await api('PUT', '/api/settings', { max_retries: -1, cooldown_failures: 1, cooldown_seconds: 600 })).status, 200);
  await tester.fill('flaky');
  await tid('route-tester-route').getByText('flaky', { exact: true }).waitFor();
  await tid('route-tester-try').click();
  await tried.and(page.locator('[data-ok="true"]')).waitFor({ timeout: 20000 });
  assert.match(await tried.innerText(), /at backup answered in .*after \S+ at fake failed \(.+\)/); // who failed, with which model and why
  await tid('route-tester-cooldown').getByText('cooling down until').waitFor();
  await page.locator('[data-testid="route-tester-warning"][data-code="cooling_down"]').waitFor();
  assert.equal((await api('DELETE', '/api/cooldowns')).status, 204);
  assert.equal((await api('PUT', '/api/settings', { cooldown_failures: 0, cooldown_seconds: 0 })).status, 200);

  step('routes: a broken route tested for real says what failed');
  assert.equal((await api('POST', '/api/routes', { model_pattern: 'broken', backend: 'fake', backend_model: 'fail-503' })).status, 201);
  await tester.fill('broken');
  await tid('route-tester-route').getByText('broken', { exact: true }).waitFor();
  await tid('route-tester-try').click();
  await tried.and(page.locator('[data-ok="false"]')).waitFor({ timeout: 20000 });
  await tid('route-tester-try-error').getByText('fake answered 503: the fake is down for this model').waitFor();

  step('providers: deleting a provider in use names its routes by pattern');
  await nav('providers');
  const del = provRow('backup').getByTestId('provider-delete');
  await del.click();
  await del.click();
  await page.getByText(/provider "backup" is used by the routes .*"fast" \(as a fallback\)/).waitFor();
  assert.ok(!/routes \[\d/.test(await page.locator('.toasts').innerText()), 'no internal ids');
}
