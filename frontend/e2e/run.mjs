// Browser test: the real modelbar binary serving the built UI at /ui/, a
// fake OpenAI-compatible provider, and Debian's Chromium driven by
// playwright-core. It starts from an empty data dir and walks the first run
// through the Get started guide, then the scenario, then each area's module
// (ctx below), and last the shell's narrow layouts and shortcuts and
// axe-core on every screen (shell.mjs, a11y.mjs). No mocked backend: every click goes through the admin API
// and the gateway. The browser signs in as a user does, with one-time login
// links (`modelbar ui --no-open`, and the one `modelbar serve` logs); the
// admin token is only the test's own, for checking what the UI did.
//
//   npm run e2e                       build the UI and a binary, then test
//   MODELBAR_BIN=./modelbar npm run e2e   test a given binary (with the UI embedded)
//   UPDATE_SCREENSHOTS=1 npm run e2e  also refresh frontend/screenshots/
//   E2E_KEEP=1                        keep the temp dir (data dir, binary)
//   CHROMIUM=/path/to/chromium        another browser binary

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { run as runLive } from './live.mjs';
import { cleanup, frontendDir, modelbarBinary, onCleanup, readToken, startFakeHub, startFakeProvider, startModelbar, tempDir, uiLink } from './harness.mjs';

const resultsDir = join(frontendDir, 'test-results');
const screenshotsDir = join(frontendDir, 'screenshots');
const update = process.env.UPDATE_SCREENSHOTS === '1';
const started = Date.now();

function step(name) {
  console.log(`e2e: [${((Date.now() - started) / 1000).toFixed(1)}s] ${name}`);
}

const state = { page: null, mb: null };

async function main() {
  const tmp = tempDir();
  mkdirSync(resultsDir, { recursive: true });
  rmSync(join(resultsDir, 'failure.png'), { force: true });
  if (update) mkdirSync(screenshotsDir, { recursive: true });

  step('fake provider');
  const fake = await startFakeProvider();

  step('modelbar binary');
  const bin = modelbarBinary(tmp);
  const hub = await startFakeHub(tmp); // the Hub the Discover tab downloads from (discover.mjs)
  const mb = await startModelbar(bin, tmp, { HF_ENDPOINT: hub.url });
  state.mb = mb;
  const base = `http://${mb.addr}`;
  step(`modelbar listening on ${base}`);
  const api = async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: { Authorization: 'Bearer ' + mb.token, 'Content-Type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };

  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no browser at ${executablePath}: apt-get install -y chromium`);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  onCleanup(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1240, height: 780 }, colorScheme: 'light', deviceScaleFactor: 1 });
  const page = await context.newPage();
  state.page = page;
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // Error answers the test provokes (400s) show as failed resources: not page errors.
  page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push('console: ' + m.text()));
  page.setDefaultTimeout(10000);
  const tid = (id) => page.getByTestId(id);

  // UPDATE_SCREENSHOTS refreshes the screenshots the READMEs show; the
  // others stay in test-results/ only.
  const readmeShots = new Set(
    [join(frontendDir, 'README.md'), join(frontendDir, '..', 'README.md')].flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/screenshots\/([a-z0-9-]+)\.png/g)].map((m) => m[1]),
    ),
  );
  async function shot(name) {
    const file = join(resultsDir, name + '.png');
    await page.screenshot({ path: file, style: '.toasts { visibility: hidden; }' });
    if (update && readmeShots.has(name)) copyFileSync(file, join(screenshotsDir, name + '.png'));
  }
  async function nav(id) {
    await tid('nav-' + id).click();
    await tid('screen-' + id).waitFor();
  }
  async function routeOrder() {
    await page.waitForFunction(() => !document.querySelector('[data-testid="routes-table"][aria-busy="true"]'));
    return page.locator('[data-testid="route-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pattern')));
  }

  // What every area module (frontend/e2e/<area>.mjs, `export async function
  // run(ctx)`) gets: the signed-in page, the admin API as the test's own
  // client, the server's base URL, the modelbar process, the fake provider,
  // and the helpers above. Add a field here, in one place, when a module needs it.
  const ctx = { page, api, base, mb, fake, hub, tid, nav, shot, step, browser, context };

  // ---- Signing in ----
  step('no session: /ui/ shows how to sign in, and no page holds the token');
  const res0 = await page.goto(base + '/ui/');
  assert.equal(res0?.status(), 200, 'GET /ui/');
  assert.ok(!(await res0.text()).includes(mb.token), 'the page source holds no token');
  await tid('signin').waitFor();
  assert.equal(await tid('signin').getAttribute('data-reason'), 'required');
  await tid('signin').getByText('modelbar ui').waitFor();
  await tid('signin').getByText('Open in browser').waitFor();
  assert.equal(await tid('screen-routes').count(), 0, 'no screen without a session');
  assert.ok(!(await page.content()).includes(mb.token), 'the rendered page holds no token');
  const assets = await page.evaluate(() => [...document.querySelectorAll('script[src], link[href]')].map((e) => e.src || e.href));
  assert.ok(assets.some((u) => u.endsWith('.js')), 'the page loads its script');
  for (const u of assets.filter((u) => u.startsWith(base))) {
    const r = await fetch(u);
    assert.ok(!(await r.text()).includes(mb.token), `${u} holds no token`);
  }
  await shot('signin');

  step('/ in a browser goes to /ui/; a program gets a line of text');
  await page.goto(base + '/');
  assert.equal(page.url(), base + '/ui/', 'GET / redirects a browser to the UI');
  await tid('signin').waitFor();
  const rootText = await fetch(base + '/');
  assert.equal(rootText.status, 200);
  assert.match(await rootText.text(), /modelbar is running/);

  step('the login link modelbar serve logged signs another browser in');
  const other = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  onCleanup(() => other.close());
  const otherPage = await other.newPage();
  await otherPage.goto(mb.loggedLink);
  await otherPage.getByTestId('screen-start').waitFor(); // an empty data dir: the guide
  assert.equal(otherPage.url(), base + '/ui/', 'the code does not stay in the address bar');

  step('sign in with a link from `modelbar ui --no-open`');
  const link = uiLink(mb);
  const res = await page.goto(link);
  assert.equal(res?.status(), 200, 'the link lands on the UI');
  assert.equal(page.url(), base + '/ui/');
  await tid('screen-start').waitFor();
  const cookies = await context.cookies(base);
  assert.equal(cookies.length, 1, 'one cookie');
  assert.deepEqual(
    { name: cookies[0].name, httpOnly: cookies[0].httpOnly, sameSite: cookies[0].sameSite, path: cookies[0].path },
    { name: 'modelbar_session_' + mb.addr.split(':').pop(), httpOnly: true, sameSite: 'Strict', path: '/' },
  );
  assert.equal(await page.evaluate(() => document.cookie), '', 'the page cannot read its session');
  const again = await fetch(link, { redirect: 'manual' });
  assert.equal(again.status, 401, 'a login link works once');
  assert.match(await again.text(), /60 seconds/);
  await tid('connection').getByText(mb.addr).waitFor();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });

  // ---- First run: the guide ----
  step('first run: the app opens on the guide; the side bar shows both base URLs with Copy');
  assert.equal(await tid('guide-step-source').getAttribute('data-done'), 'false');
  await tid('guide-routes-waiting').waitFor();
  await tid('guide-local-how').getByText('Hugging Face cache', { exact: false }).waitFor();
  assert.equal(await tid('side-url-openai').innerText(), base + '/v1');
  assert.equal(await tid('side-url-anthropic').innerText(), base);
  await tid('side-copy-anthropic').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), base, 'the Anthropic base URL went to the clipboard');
  await shot('get-started-empty');

  step('first run: add the fake provider from the guide (the Providers screen\'s own dialog), and come back');
  await tid('guide-add-provider').click();
  await tid('screen-providers').waitFor();
  const pdlg = tid('provider-dialog');
  await pdlg.waitFor();
  await tid('provider-preset').selectOption('custom');
  await tid('provider-name').fill('fake');
  await tid('provider-base-url').fill(fake.url);
  await tid('provider-api-key').fill('sk-fake-key-1234');
  await tid('provider-api-key').press('Enter'); // Enter submits
  await pdlg.waitFor({ state: 'hidden' });
  await tid('screen-start').waitFor(); // back at the guide
  assert.equal(await tid('guide-step-source').getAttribute('data-done'), 'true');
  assert.ok(!(await page.content()).includes('sk-fake-key-1234'), 'the key must not be in the page after save');

  step('first run: the routes it makes possible: its models and a suggested wildcard route');
  const gprov = page.locator('[data-testid="guide-provider"][data-name="fake"]');
  await gprov.getByTestId('guide-models').getByText('fake-large').waitFor();
  assert.match(await gprov.getByTestId('guide-models').innerText(), /^2 models: fake-small, fake-large/);
  assert.equal(await gprov.getByTestId('guide-suggestion').getAttribute('data-pattern'), 'fake-*');
  await gprov.getByRole('button', { name: 'Add route fake-* to fake' }).click();
  await gprov.locator('[data-testid="guide-route"][data-pattern="fake-*"]').waitFor();
  assert.equal(await gprov.getByTestId('guide-suggestion').count(), 0, 'an added route is no longer suggested');
  assert.equal(await tid('guide-step-routes').getAttribute('data-done'), 'true');
  const viaGuide = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'fake-small', messages: [{ role: 'user', content: 'first run' }] }),
  });
  assert.equal(viaGuide.headers.get('x-modelbar-backend'), 'fake', 'the route the guide added takes fake-small');

  step('first run: copy the URL into your tool');
  assert.equal(await tid('guide-url-openai').innerText(), base + '/v1');
  await page.waitForFunction(() => !document.body.innerText.includes('Copied ✓'), null, { timeout: 3000 }); // the side bar's Copy, a moment ago
  await shot('get-started');
  await tid('guide-copy-openai').click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), base + '/v1', 'the OpenAI base URL went to the clipboard');
  await tid('guide-open-connect').click();
  await tid('screen-connect').waitFor();
  await tid('connect-client').waitFor();

  step('configured: with a route the app opens on Routes; the guide stays in the side bar');
  await page.goto(base + '/ui/');
  await tid('screen-routes').waitFor();
  step('a provider without a route answers nothing: the app opens on the guide; an empty Routes points to it');
  // The rest of the scenario adds its own routes, fake-* among them.
  const guideRoute = (await api('GET', '/api/routes')).body.find((r) => r.model_pattern === 'fake-*');
  assert.equal((await api('DELETE', '/api/routes/' + guideRoute.id)).status, 204);
  await page.goto(base + '/ui/');
  await tid('screen-start').waitFor();
  await nav('routes');
  await tid('routes-empty').getByText('No routes yet').waitFor();
  await tid('routes-empty-guide').getByText('See suggested routes').click();
  await tid('screen-start').waitFor();
  await page.locator('[data-testid="guide-provider"][data-name="fake"] [data-testid="guide-suggestion"][data-pattern="fake-*"]').waitFor();
  await nav('routes');

  // ---- Providers ----
  step('providers: the fake provider, its key shown only by its last four characters');
  await nav('providers');
  const fakeRow = page.locator('[data-testid="provider-row"][data-name="fake"]');
  await fakeRow.waitFor();
  await fakeRow.getByTestId('provider-key').getByText('••••1234').waitFor();
  assert.ok(!(await page.content()).includes('sk-fake-key-1234'), 'the key must not be in the page');

  step('providers: a bad base URL is shown at its field');
  await tid('provider-add').click();
  await tid('provider-preset').selectOption('custom');
  await tid('provider-name').fill('backup');
  await tid('provider-base-url').fill('ftp://nowhere');
  await tid('provider-save').click();
  await tid('error-base_url').waitFor();
  await tid('provider-base-url').fill(fake.url);
  await tid('provider-save').click();
  await pdlg.waitFor({ state: 'hidden' });
  await page.locator('[data-testid="provider-row"][data-name="backup"]').waitFor();

  step('providers: api_key_env must name a key variable; a move to another host warns that the key stays behind');
  await tid('provider-add').click();
  await tid('provider-preset').selectOption('anthropic');
  await pdlg.getByRole('button', { name: 'Advanced' }).click();
  assert.equal(await tid('provider-api-key-env').getAttribute('placeholder'), 'ANTHROPIC_API_KEY');
  await page.keyboard.press('Escape');
  await pdlg.waitFor({ state: 'hidden' });
  const backupRow = page.locator('[data-testid="provider-row"][data-name="backup"]');
  await backupRow.getByTestId('provider-edit').click();
  await pdlg.getByRole('button', { name: 'Advanced' }).click();
  await tid('provider-api-key-env').fill('HOME');
  await tid('provider-save').click();
  await tid('error-api_key_env').getByText('_KEY, _TOKEN or _API_KEY').waitFor();
  await page.keyboard.press('Escape');
  await pdlg.waitFor({ state: 'hidden' });
  assert.equal((await api('GET', '/api/providers/backup')).body.api_key_env, '');
  await fakeRow.getByTestId('provider-edit').click();
  await tid('provider-base-url').fill(fake.url.replace('127.0.0.1', 'localhost'));
  await tid('provider-key-drop').getByText('the stored key (••••1234)').waitFor();
  await shot('provider-moved');
  await tid('provider-api-key').fill('sk-for-the-new-host');
  await tid('provider-key-drop').waitFor({ state: 'detached' }); // a new key goes with it
  await tid('provider-api-key').fill('');
  await tid('provider-base-url').fill(fake.url);
  await tid('provider-key-drop').waitFor({ state: 'detached' });
  await page.keyboard.press('Escape');
  await pdlg.waitFor({ state: 'hidden' });

  step('providers: test connection');
  await fakeRow.getByTestId('provider-test').click();
  await fakeRow.getByTestId('provider-test-result').getByText('ok').waitFor();
  await fakeRow.getByTestId('provider-test-result').getByText('2 models').waitFor();
  assert.ok(fake.seen.some((r) => r.path === '/v1/models' && r.auth === 'Bearer sk-fake-key-1234'), 'the provider got its key');
  await shot('providers');

  // ---- Routes ----
  await nav('routes');
  step('routes: a bad pattern is shown at its field');
  await tid('route-add').click();
  const rdlg = tid('route-dialog');
  await rdlg.waitFor();
  await tid('route-pattern').fill('gpt-[');
  await tid('route-backend').selectOption('fake');
  await tid('route-save').click();
  await tid('error-model_pattern').waitFor();
  await page.keyboard.press('Escape'); // Escape closes the dialog
  await rdlg.waitFor({ state: 'hidden' });

  step('routes: add two routes');
  await tid('route-add').click();
  await tid('route-pattern').fill('fake-*');
  await tid('route-backend').selectOption('fake');
  await tid('route-pattern').press('Enter');
  await rdlg.waitFor({ state: 'hidden' });
  await page.locator('[data-testid="route-row"][data-pattern="fake-*"]').waitFor();

  await tid('route-add').click();
  await tid('route-pattern').fill('fast');
  await tid('route-backend').selectOption('fake');
  await tid('route-backend-model').fill('fake-small');
  await tid('route-fallback-backend').selectOption('backup');
  await tid('route-fallback-model').fill('fake-large');
  await tid('route-fallback-add').click();
  await tid('route-fallback-backend').selectOption('local');
  await tid('route-fallback-add').click();
  assert.equal(await tid('route-fallback-entry').count(), 2);
  await shot('route-editor');
  await tid('route-save').click();
  await rdlg.waitFor({ state: 'hidden' });
  await page.locator('[data-testid="route-row"][data-pattern="fast"]').waitFor();

  step('routes: order, reorder');
  // Equal priority: the exact pattern comes before the wildcard.
  assert.deepEqual(await routeOrder(), ['fast', 'fake-*']);
  await page.locator('[data-testid="route-row"][data-pattern="fast"]').getByTestId('route-down').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="route-row"]')?.getAttribute('data-pattern') === 'fake-*');
  assert.deepEqual(await routeOrder(), ['fake-*', 'fast']);
  const serverOrder = (await api('GET', '/api/routes')).body.map((r) => r.model_pattern);
  assert.deepEqual(serverOrder, ['fake-*', 'fast'], 'the server evaluates in the order shown');
  await page.locator('[data-testid="route-row"][data-pattern="fast"]').getByTestId('route-up').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="route-row"]')?.getAttribute('data-pattern') === 'fast');
  assert.deepEqual((await api('GET', '/api/routes')).body.map((r) => r.model_pattern), ['fast', 'fake-*']);

  step('routes: disable and enable');
  const wild = page.locator('[data-testid="route-row"][data-pattern="fake-*"]');
  await wild.getByTestId('route-toggle').click();
  await wild.and(page.locator('.disabled')).waitFor();
  assert.equal((await api('GET', '/api/routes')).body.find((r) => r.model_pattern === 'fake-*').enabled, false);
  await wild.getByTestId('route-toggle').click();
  await wild.and(page.locator(':not(.disabled)')).waitFor();

  step('routes: tester');
  const tester = tid('route-tester-input');
  await tester.fill('fast');
  await tid('route-tester-route').getByText('fast', { exact: true }).waitFor();
  const chain = tid('route-tester-chain');
  await chain.getByText('fake-large').waitFor();
  // The alias applies down the chain; a fallback's own model replaces it.
  assert.match((await chain.innerText()).replace(/\s+/g, ' '), /fake fake-small → backup fake-large → local fake-small/);
  await tester.fill('fake-large');
  await tid('route-tester-route').getByText('fake-*', { exact: true }).waitFor();
  await tester.fill('something-else');
  await tid('route-tester-route').getByText('no route').waitFor();
  await tester.fill('fast');
  await tid('route-tester-route').getByText('fast', { exact: true }).waitFor();
  await shot('routes');

  // ---- Chat ----
  step('chat: stream an answer');
  await nav('chat');
  await tid('chat-model').fill('fast');
  await tid('chat-input').fill('Hi there');
  await tid('chat-input').press('Enter');
  const answer = tid('chat-answer').last();
  // Streaming: part of the answer is on screen while the stream is still open.
  await page.waitForFunction(() => {
    const a = [...document.querySelectorAll('[data-testid="chat-answer"]')].pop();
    return !!a && a.textContent.length > 0 && !!a.querySelector('.caret') && !a.textContent.includes('You said');
  });
  await tid('chat-stop').waitFor();
  await answer.getByText('Hello from the fake provider (fake-small). You said: Hi there').waitFor();
  await tid('chat-send').waitFor();
  assert.equal(await tid('chat-backend').last().innerText(), 'fake');
  await tid('chat-usage').last().getByText('7 in').waitFor();
  assert.equal(await tid('chat-fallback').count(), 0);

  step('chat: a failover shows where it came from');
  // Fewer retries so the failing step is quick; set through the settings form.
  await nav('status');
  await tid('setting-max_retries').fill('-1');
  await tid('settings-save').click();
  await page.getByText('Settings saved').waitFor();
  assert.equal((await api('GET', '/api/settings')).body.max_retries, -1);
  step('chat: a route whose backend fails');
  await nav('routes');
  await tid('route-add').click();
  await tid('route-pattern').fill('flaky');
  await tid('route-backend').selectOption('fake');
  await tid('route-backend-model').fill('fail-503');
  await tid('route-fallback-backend').selectOption('backup');
  await tid('route-fallback-model').fill('fake-small');
  await tid('route-fallback-add').click();
  await tid('route-save').click();
  await rdlg.waitFor({ state: 'hidden' });
  step('chat: send to the failing route');
  await nav('chat');
  await tid('chat-model').fill('flaky');
  await tid('chat-input').fill('Are you there?');
  await tid('chat-send').click();
  // The conversation survived the trip to other screens.
  await tid('chat-answer').nth(1).getByText('(fake-small). You said: Are you there?').waitFor();
  assert.equal(await tid('chat-backend').last().innerText(), 'backup');
  assert.match(await tid('chat-fallback').last().innerText(), /fake/);
  await shot('chat');

  step('chat: temperature and max tokens set in Options');
  await tid('chat-options').click();
  await page.locator('#chat-temp').fill('0.5');
  await page.locator('#chat-max').fill('64');
  await tid('chat-model').fill('fast');
  await tid('chat-input').fill('With options');
  await tid('chat-send').click();
  await tid('chat-answer').nth(2).getByText('You said: With options').waitFor();
  await page.locator('#chat-temp').fill('');
  await tid('chat-input').fill('Options cleared');
  await tid('chat-send').click();
  await tid('chat-answer').nth(3).getByText('You said: Options cleared').waitFor();

  step('chat: New chat while an answer streams, then chat on');
  await tid('chat-input').fill('Stream then clear');
  await tid('chat-send').click();
  await tid('chat-stop').waitFor();
  await tid('chat-new').click();
  assert.equal(await tid('chat-answer').count(), 0);
  await tid('chat-send').waitFor(); // not stuck on Stop
  await tid('chat-input').fill('After clear');
  await tid('chat-send').click();
  await tid('chat-answer').first().getByText('You said: After clear').waitFor();

  // ---- Requests ----
  step('requests: the log shows both');
  await nav('requests');
  await page.locator('[data-testid="request-row"][data-model="fast"][data-backend="fake"]').first().waitFor();
  const flaky = page.locator('[data-testid="request-row"][data-model="flaky"][data-backend="backup"]');
  await flaky.waitFor();
  await flaky.getByTestId('request-fallback').getByText('fake').waitFor();
  // Live: a request made now appears without a reload.
  const before = await tid('request-row').count();
  const direct = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'fake-large', messages: [{ role: 'user', content: 'ping' }] }),
  });
  assert.equal(direct.status, 200);
  assert.equal(direct.headers.get('x-modelbar-backend'), 'fake');
  await page.locator('[data-testid="request-row"][data-model="fake-large"]').waitFor({ timeout: 5000 });
  assert.equal(await tid('request-row').count(), before + 1);
  await shot('requests');

  // ---- Models ----
  step('models');
  await nav('models');
  await page.locator('[data-testid="models-empty"], [data-testid="models-table"]').first().waitFor();
  await shot('models');

  // ---- Status ----
  step('status: the address');
  await nav('status');
  await tid('status-addr').getByText(base).waitFor();

  // ---- Connect your tools ----
  step('connect: GET /api/connect\'s snippets for this server and a model it has');
  await nav('connect');
  assert.equal(await tid('connect-base').innerText(), base);
  assert.equal(await tid('connect-base-v1').innerText(), `${base}/v1`);
  const connect = (await api('GET', '/api/connect')).body;
  assert.equal(connect.model_source, 'available');
  assert.ok(connect.models.includes('fast') && connect.models.includes(connect.model), `a model the server lists: ${connect.model} of ${connect.models}`);
  await tid('connect-client').waitFor();
  assert.deepEqual(await tid('connect-tab').evaluateAll((ts) => ts.map((t) => t.dataset.client)), connect.clients.map((c) => c.id), 'a tab per client, in the API\'s order');
  const shown = tid('connect-client');
  const blockText = (sel) => shown.locator(`[data-testid="connect-block"]${sel} [data-testid="connect-block-text"]`).innerText();
  const shownText = (sel, want) =>
    page.waitForFunction(
      ([sel, want]) => document.querySelector(`[data-testid="connect-client"] [data-testid="connect-block"]${sel} [data-testid="connect-block-text"]`)?.textContent?.includes(want),
      [sel, want],
    );
  assert.equal(await shown.getAttribute('data-client'), 'claude-code', 'Claude Code first');
  assert.match(await blockText('[data-lang="sh"]'), new RegExp(`^export ANTHROPIC_BASE_URL=${base}$`, 'm'));
  assert.equal((await blockText('[data-lang="sh"]')).trim(), connect.clients[0].blocks.at(-1).text.trim(), 'the block as the API sent it');
  assert.deepEqual([await tid('connect-model').inputValue(), await tid('connect-small-model').inputValue()], [connect.model, connect.small_model], 'the API\'s choice');
  assert.deepEqual(await page.locator('#connect-models option').evaluateAll((os) => os.map((o) => o.value)), connect.models, 'the fields suggest the listed models');
  await shown.getByTestId('connect-tested').getByText('tested in CI').waitFor();
  await shown.getByTestId('connect-note').locator('code').getByText('ANTHROPIC_API_KEY').waitFor();
  await tid('connect-key-any').waitFor();
  assert.equal(await tid('connect-model-placeholder').count(), 0, 'no placeholder: the server has models');

  step('connect: the model fields ask again; a bad name shows at its field');
  await tid('connect-model').fill('fake-large');
  await tid('connect-small-model').fill('fake-small');
  await shownText('[data-lang="sh"]', 'export ANTHROPIC_MODEL=fake-large');
  await shownText('[data-lang="sh"]', 'export ANTHROPIC_SMALL_FAST_MODEL=fake-small');
  await tid('connect-model').fill('x'.repeat(300));
  await page.locator('#connect-model[aria-invalid="true"]').waitFor();
  await tid('connect-model').fill('fake-large');
  await page.locator('#connect-model[aria-invalid="false"]').waitFor();

  step('connect: another client: its file, a Copy button, the arrow keys; steps for Xcode; Cursor\'s note');
  await page.locator('[data-testid="connect-tab"][data-client="opencode"]').click();
  const opencodeFile = '[data-title="~/.config/opencode/opencode.json"]';
  await shown.locator('[data-testid="connect-block"]' + opencodeFile).waitFor();
  const ocText = await blockText(opencodeFile);
  assert.ok(ocText.includes(`"baseURL": "${base}/v1"`) && ocText.includes('"model": "modelbar/fake-large"'), ocText);
  await shown.locator('[data-testid="connect-block"]' + opencodeFile).getByTestId('connect-copy').click();
  await shown.getByText('Copied ✓').waitFor();
  const chosen = (await api('GET', '/api/connect?model=fake-large&small_model=fake-small')).body;
  const ocBlock = chosen.clients.find((c) => c.id === 'opencode').blocks.find((b) => b.title === '~/.config/opencode/opencode.json');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), ocBlock.text, 'the file, as the API renders it for these models, went to the clipboard');
  await page.locator('[data-testid="connect-tab"][data-client="opencode"]').focus();
  await page.keyboard.press('ArrowRight');
  const next = connect.clients[connect.clients.findIndex((c) => c.id === 'opencode') + 1].id;
  await page.locator(`[data-testid="connect-client"][data-client="${next}"]`).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-client')), next, 'focus follows the arrow');
  await page.locator('[data-testid="connect-tab"][data-client="xcode"]').click();
  await shown.locator('[data-testid="connect-block"][data-lang=""]').getByText('Port: ' + mb.addr.split(':').pop()).waitFor();
  await shown.getByTestId('connect-tested').getByText('not run in CI').waitFor();
  await page.locator('[data-testid="connect-tab"][data-client="cursor"]').click();
  await shown.getByTestId('connect-note').getByText('cannot reach', { exact: false }).waitFor();
  await page.locator('[data-testid="connect-tab"][data-client="claude-code"]').click();
  await page.evaluate(() => document.querySelector('main')?.scrollTo(0, 0));
  await shot('connect');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('connect-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  step('connect: / finds a client; the curl snippet, run by sh as shown, answers through both APIs');
  await page.keyboard.press('/'); // focus is on a tab: / goes to the screen's search field
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'connect-find');
  await page.keyboard.type('curl');
  await page.locator('[data-testid="connect-client"][data-client="curl"]').waitFor();
  assert.equal(await tid('connect-tab').count(), 1, 'only the matching tab');
  await tid('connect-tab').click(); // chosen: kept when the screen opens again
  await shown.getByTestId('connect-tested-how').getByText('the browser suite', { exact: false }).waitFor();
  // Asynchronously: the fake provider answers from this same process.
  const sh = async (script) => (await promisify(execFile)('sh', ['-c', script], { encoding: 'utf8', timeout: 20000 })).stdout;
  const curlOut = await sh(await blockText('[data-lang="sh"]'));
  assert.equal(curlOut.match(/Hello from the fake provider \(fake-large\)\. You said: Hello/g)?.length, 2, curlOut);
  assert.match(curlOut, /"object":"chat\.completion"/);
  assert.match(curlOut, /"type":"message"/);

  step('connect: with inference keys required the snippets carry a placeholder; "Create a key" fills in a real one, shown once');
  await nav('status');
  await tid('setting-require_api_keys').check();
  await tid('settings-save').click();
  await page.getByText('Settings saved').first().waitFor();
  await nav('connect');
  await tid('connect-key-required').getByText('mb-your-key').waitFor();
  await shownText('[data-lang="sh"]', "-H 'Authorization: Bearer mb-your-key'");
  await tid('connect-create-key').click();
  await tid('connect-key-filled').waitFor();
  const filled = await blockText('[data-lang="sh"]');
  const made = /Bearer (mb-[A-Za-z0-9_-]+)'/.exec(filled)?.[1];
  assert.ok(made && made !== 'mb-your-key', filled);
  const curlKeyed = await sh(filled);
  assert.equal(curlKeyed.match(/You said: Hello/g)?.length, 2, 'the filled-in key is accepted: ' + curlKeyed);
  await tid('connect-find').fill('');
  await page.locator('[data-testid="connect-tab"][data-client="claude-code"]').click();
  await shownText('[data-lang="sh"]', 'export ANTHROPIC_AUTH_TOKEN=' + made);
  await shown.locator('[data-testid="connect-block"][data-lang="sh"]').getByTestId('connect-copy').click();
  assert.match(await page.evaluate(() => navigator.clipboard.readText()), new RegExp('ANTHROPIC_AUTH_TOKEN=' + made), 'the copy carries the key');
  await tid('connect-keys-link').count().then((n) => assert.equal(n, 0, 'the key is made: no "Manage keys" banner'));
  await nav('status');
  await page.waitForFunction((k) => !document.documentElement.outerHTML.includes(k), made, { timeout: 2000 });
  await nav('connect');
  await tid('connect-key-required').getByText('mb-your-key').waitFor(); // shown once: gone after leaving the screen
  await tid('connect-keys-link').click();
  await page.waitForFunction(() => document.activeElement?.id === 'key-name');
  await page.waitForFunction(() => !document.body.innerText.includes('Settings saved'), null, { timeout: 6000 }); // the last save's toast
  await tid('setting-require_api_keys').uncheck();
  await tid('settings-save').click();
  await page.getByText('Settings saved').first().waitFor();
  assert.equal((await api('GET', '/api/settings')).body.require_api_keys, false);
  await nav('connect');
  await tid('connect-key-any').waitFor();
  await shownText('[data-lang="sh"]', 'export ANTHROPIC_AUTH_TOKEN=modelbar');
  await nav('status');
  await page.waitForFunction(() => !document.body.innerText.includes('Settings saved'), null, { timeout: 6000 }); // the toasts, before a later step looks for its own

  step('status: a new API key');
  await tid('key-name').fill('e2e');
  await tid('key-name').press('Enter');
  await tid('key-created').waitFor();
  const key = await tid('key-value').inputValue();
  assert.match(key, /^mb-/);
  await shot('status-new-key');
  await page.keyboard.press('Escape');
  await tid('key-created').waitFor({ state: 'hidden' });
  await tid('key-row').getByText('e2e').waitFor();
  // Gone from the page once the dialog has closed (Svelte re-renders a tick later).
  await page.waitForFunction((k) => !document.documentElement.outerHTML.includes(k), key, { timeout: 2000 });
  assert.ok(!(await page.content()).includes(key), 'the key is gone from the page once the dialog closes');

  step('status: a failing model cools down, with its scope, reason and end; End now ends it');
  assert.equal((await api('PUT', '/api/settings', { max_retries: -1, cooldown_failures: 1, cooldown_seconds: 600 })).status, 200);
  const flakyAgain = await fetch(base + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'flaky', messages: [{ role: 'user', content: 'again' }] }),
  });
  assert.equal(flakyAgain.status, 200, 'the chain fails over to backup');
  const [cooldown] = (await api('GET', '/api/cooldowns')).body;
  assert.deepEqual([cooldown.provider, cooldown.model, cooldown.scope, cooldown.state], ['fake', 'fail-503', 'model', 'cooldown']);
  const cdRow = page.locator('[data-testid="cooldown-row"][data-provider="fake"][data-model="fail-503"][data-state="cooldown"]');
  await cdRow.waitFor(); // the next status poll
  assert.equal(await cdRow.getAttribute('data-scope'), 'model');
  assert.equal(await cdRow.getByTestId('cooldown-scope').innerText(), 'model');
  assert.match(await cdRow.getByTestId('cooldown-reason').innerText(), /HTTP 503/);
  assert.equal(await cdRow.locator('time').getAttribute('datetime'), cooldown.until);
  assert.match(await cdRow.getByTestId('cooldown-left').innerText(), /^\(in (9 min \d+|10 min 0) s\)$/);
  await page.evaluate(() => document.querySelector('main')?.scrollTo(0, 0));
  await shot('status');
  await cdRow.getByTestId('cooldown-end').click();
  await cdRow.waitFor({ state: 'detached' });
  await tid('cooldowns-none').waitFor();
  assert.deepEqual((await api('GET', '/api/cooldowns')).body, []);
  assert.equal((await api('PUT', '/api/settings', { cooldown_failures: 0, cooldown_seconds: 0 })).status, 200);

  step('status: allowed origins, an invalid one shown at its row, then a valid list saved');
  // The form was loaded before the API changed the cooldown settings: reload it.
  await nav('routes');
  await nav('status');
  await tid('origin-add').click();
  await tid('origin-input').last().fill('http://192.168.1.5:3000');
  await tid('origin-add').click();
  await tid('origin-add').click(); // a blank row is left out
  await tid('origin-input').last().fill('http://*.example.com');
  await tid('setting-max_inflight_requests').fill('256');
  await tid('settings-save').click();
  await tid('origin-row').nth(2).getByTestId('origin-error').getByText('wildcards').waitFor();
  assert.equal(await tid('origin-error').count(), 1);
  assert.equal(await tid('origin-input').nth(2).getAttribute('aria-invalid'), 'true');
  assert.deepEqual((await api('GET', '/api/settings')).body.allowed_origins, [], 'nothing saved');
  await tid('origin-input').nth(2).fill('vscode-webview://abc123');
  await tid('settings-save').click();
  await page.getByText('Settings saved').waitFor();
  const saved = (await api('GET', '/api/settings')).body;
  assert.deepEqual(saved.allowed_origins, ['http://192.168.1.5:3000', 'vscode-webview://abc123']);
  assert.equal(saved.max_inflight_requests, 256);
  assert.equal(saved.cooldown_failures, 0, 'the form kept what the API set');
  assert.equal(await tid('origin-error').count(), 0);
  assert.equal(await tid('origin-row').count(), 2, 'the saved list, blank row gone');

  // ---- Problems ----
  step('problems: an unreadable key shows on every screen until it is set again');
  writeFileSync(join(mb.dataDir, 'secrets.enc'), 'garbage, not an encrypted file');
  assert.equal((await api('POST', '/api/routes', { model_pattern: 'after-damage', backend: 'fake' })).status, 201); // keys are read again
  await page.reload();
  const problem = page.locator('[data-testid="problem"][data-component="secrets"][data-subject="fake"]');
  await problem.waitFor();
  assert.equal(await tid('problem').count(), 1, 'backup has no key to lose');
  assert.equal(await tid('problems').getAttribute('role'), 'alert');
  await problem.getByText('The key of provider fake cannot be read').waitFor();
  await shot('problems');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot('problems-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  const broken = (await api('GET', '/api/providers/fake')).body;
  assert.equal(broken.key_unreadable, true);
  assert.match(broken.key_error, /corrupt/);
  await problem.getByTestId('problem-set-key').click();
  await tid('screen-providers').waitFor();
  await pdlg.getByText('Edit provider fake').waitFor();
  await tid('provider-dialog-unreadable').waitFor();
  await fakeRow.getByTestId('provider-key-unreadable').getByText('key unreadable').waitFor();
  await page.waitForFunction(() => document.activeElement?.id === 'pv-key'); // at the key field
  await page.keyboard.type('sk-fake-key-5678');
  await page.keyboard.press('Enter');
  await pdlg.waitFor({ state: 'hidden' });
  await tid('problems').waitFor({ state: 'detached' });
  await fakeRow.getByTestId('provider-key').getByText('••••5678').waitFor();
  assert.equal(await fakeRow.getByTestId('provider-key-unreadable').count(), 0);
  assert.equal((await api('GET', '/api/providers/fake')).body.key_unreadable, false);
  assert.deepEqual((await api('GET', '/api/status')).body.problems, []);
  await fakeRow.getByTestId('provider-test').click();
  await fakeRow.getByTestId('provider-test-result').getByText('2 models').waitFor();
  assert.equal(fake.seen.at(-1).auth, 'Bearer sk-fake-key-5678', 'the provider gets the key set again');

  // ---- Dark theme ----
  step('dark theme');
  await page.emulateMedia({ colorScheme: 'dark' });
  await nav('routes');
  await tid('route-tester-input').fill('fast');
  await tid('route-tester-chain').getByText('fake-large').waitFor();
  await shot('routes-dark');
  await nav('chat');
  await shot('chat-dark');
  // The toggle overrides the system scheme.
  await tid('theme-toggle').click(); // system -> light
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');

  // ---- Sessions ----
  step('sessions: both browsers listed; revoking the other signs it out');
  await nav('status');
  const rows = page.locator('[data-testid="session-row"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="session-row"]').length === 2);
  await page.locator('[data-testid="session-row"][data-current="true"]').getByTestId('session-current').waitFor();
  assert.equal(await rows.locator('[data-testid="session-current"]').count(), 1);
  const revoke = page.locator('[data-testid="session-row"][data-current="false"]').getByTestId('session-revoke');
  await revoke.click();
  await revoke.click(); // confirm
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="session-row"]').length === 1);
  await otherPage.getByTestId('signin-expired').waitFor({ timeout: 10000 }); // its next poll
  assert.equal((await api('GET', '/api/sessions')).body.length, 1);
  await page.locator('[data-testid="sessions"]').scrollIntoViewIfNeeded();
  await shot('status-sessions');

  step('sign out');
  await tid('sign-out').click();
  await tid('signin-signed-out').waitFor();
  assert.equal((await context.cookies(base)).length, 0, 'the cookie is gone');
  assert.equal((await api('GET', '/api/sessions')).body.length, 0);
  await page.reload();
  await tid('signin').waitFor();
  assert.equal(await tid('signin').getAttribute('data-reason'), 'required');

  step('rotating the admin token ends the session');
  await page.goto(uiLink(mb));
  await tid('screen-routes').waitFor();
  const rotated = await api('POST', '/api/admin-token/rotate');
  assert.deepEqual(rotated, { status: 200, body: { rotated: true, sessions_revoked: 1 } });
  await tid('signin-expired').waitFor({ timeout: 10000 }); // the next poll
  assert.notEqual(readToken(mb), mb.token, 'a new token in the file');
  await shot('signin-expired');

  // ---- Area modules ----
  // Signed in again (the token was rotated above; `api` reads mb.token at each
  // call), in the light theme, with the providers `fake` and `backup` and the
  // routes `fast`, `fake-*`, `flaky` and `after-damage` in place.
  mb.token = readToken(mb);
  await page.emulateMedia({ colorScheme: 'light' });
  await page.goto(uiLink(mb));
  await tid('nav-routes').waitFor();
  // area modules: one line each, `await (await import('./<area>.mjs')).run(ctx);`
  await runLive(ctx); // live views (issue 14: 4)
  await (await import('./routes.mjs')).run(ctx); // route editor, tester, providers (issue 14: 5, 6)
  await (await import('./requests.mjs')).run(ctx); // request log, settings, models (issue 14: 7, 8)
  await (await import('./chat.mjs')).run(ctx); // the chat (issue 14: 3)
  await (await import('./discover.mjs')).run(ctx); // Discover, downloads, chat with a downloaded model (issue 15)
  await (await import('./providers.mjs')).run(ctx); // remote engines as providers: presets, extra headers, health (issue 17: 4)

  // Last, after every area module, so that they check every screen: the
  // shell (narrow layouts, shortcuts), then axe-core on every screen in
  // both themes.
  await (await import('./shell.mjs')).run(ctx);
  await (await import('./a11y.mjs')).run(ctx);

  assert.deepEqual(pageErrors, [], 'no errors in the page');
  step(`passed; screenshots in ${resultsDir}${update ? ' and ' + screenshotsDir : ''}`);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error('\ne2e: FAILED:', err?.stack ?? err);
  if (state.page) {
    const file = join(resultsDir, 'failure.png');
    await state.page.screenshot({ path: file }).then(() => console.error('e2e: the page at the failure:', file), () => {});
  }
  if (state.mb) console.error('e2e: modelbar log (last lines):\n' + state.mb.log.join('').split('\n').slice(-40).join('\n'));
}
await cleanup();
process.exit(failed ? 1 : 0);
