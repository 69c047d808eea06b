// Live views (issue 14, item 4): a change made through the admin API shows
// in the open screen within a second, with no navigation and no reload —
// the change feed (GET /api/events) at work, not a poll.

import assert from 'node:assert/strict';
import { onCleanup, startModelbar, tempDir, uiLink } from './harness.mjs';

/** The product's promise is "within a second"; a little slack for the browser. */
const SOON = 1500;

export async function run({ page, api, mb, fake, tid, nav, shot, step }) {
  step('live: sign in again (the main scenario ended signed out)');
  await page.goto(uiLink(mb));
  await tid('screen-routes').waitFor();
  await tid('connection').getByText(mb.addr).waitFor();
  // The feed is open (the hello has come) once a change made now shows.
  const probe = await api('POST', '/api/routes', { model_pattern: 'live-probe', backend: 'local' });
  assert.equal(probe.status, 201, JSON.stringify(probe.body));
  await page.locator('[data-testid="route-row"][data-pattern="live-probe"]').waitFor({ timeout: 5000 });

  step('live: a route added through the API shows in the open Routes screen');
  const created = await api('POST', '/api/routes', { model_pattern: 'live-*', backend: 'fake', priority: 3 });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const row = page.locator('[data-testid="route-row"][data-pattern="live-*"]');
  await row.waitFor({ timeout: SOON });
  assert.equal(await row.getByTestId('route-toggle').isChecked(), true);

  step('live: the route turned off through the API shows off');
  const { id, ...route } = created.body;
  const off = await api('PUT', `/api/routes/${id}`, { ...route, enabled: false });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  await page.locator('[data-testid="route-row"][data-pattern="live-*"].disabled').waitFor({ timeout: SOON });
  assert.equal(await row.getByTestId('route-toggle').isChecked(), false);
  await shot('live-routes');

  step('live: a route deleted through the API leaves the screen');
  for (const r of [created.body, probe.body]) assert.equal((await api('DELETE', `/api/routes/${r.id}`)).status, 204);
  await row.waitFor({ state: 'detached', timeout: SOON });

  step('live: a provider added through the API shows in the open Providers screen');
  await nav('providers');
  const put = await api('PUT', '/api/providers/live-prov', { type: 'openai', base_url: fake.url });
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
  const prow = page.locator('[data-testid="provider-row"][data-name="live-prov"]');
  await prow.waitFor({ timeout: SOON });
  assert.equal((await api('DELETE', '/api/providers/live-prov')).status, 204);
  await prow.waitFor({ state: 'detached', timeout: SOON });

  step('live: a request shows in the open Requests screen');
  await nav('requests');
  const live = await api('POST', '/api/routes', { model_pattern: 'live-chat', backend: 'fake', backend_model: 'fake-small' });
  assert.equal(live.status, 201, JSON.stringify(live.body));
  const chat = await fetch(`http://${mb.addr}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'live-chat', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(chat.status, 200, await chat.text());
  await page.locator('[data-testid="request-row"][data-model="live-chat"]').first().waitFor({ timeout: SOON });

  step('live: a cooldown shows in the open Status screen, and its end through the API clears it');
  await nav('status');
  await tid('cooldowns-none').waitFor();
  const before = (await api('GET', '/api/settings')).body;
  assert.equal((await api('PUT', '/api/settings', { max_retries: -1, cooldown_failures: 1, cooldown_seconds: 600 })).status, 200);
  const failing = await api('POST', '/api/routes', { model_pattern: 'live-fail', backend: 'fake', backend_model: 'fail-503' });
  assert.equal(failing.status, 201, JSON.stringify(failing.body));
  const bad = await fetch(`http://${mb.addr}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'live-fail', messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(bad.status, 503, 'the provider failed, no fallback');
  const cd = page.locator('[data-testid="cooldown-row"][data-provider="fake"][data-model="fail-503"][data-state="cooldown"]');
  await cd.waitFor({ timeout: SOON });
  await shot('live-cooldown');
  assert.equal((await api('DELETE', '/api/cooldowns')).status, 204);
  await cd.waitFor({ state: 'detached', timeout: SOON });
  await tid('cooldowns-none').waitFor({ timeout: SOON });

  // Leave things as they were.
  for (const r of [live.body, failing.body]) assert.equal((await api('DELETE', `/api/routes/${r.id}`)).status, 204);
  const restore = { max_retries: before.max_retries, cooldown_failures: before.cooldown_failures, cooldown_seconds: before.cooldown_seconds };
  assert.equal((await api('PUT', '/api/settings', restore)).status, 200);

  step('live: a server that stops shows "not reachable" at once (a second modelbar, its own browser)');
  const mb2 = await startModelbar(mb.bin, tempDir());
  const other = await page.context().browser().newContext();
  onCleanup(() => other.close());
  const page2 = await other.newPage();
  await page2.goto(uiLink(mb2));
  await page2.getByTestId('connection').getByText(mb2.addr).waitFor();
  const stopped = new Promise((ok) => mb2.child.once('exit', ok));
  mb2.child.kill('SIGTERM');
  await page2.getByTestId('connection').getByText('not reachable').waitFor({ timeout: SOON });
  await stopped; // and the open feed did not hold its shutdown
  await other.close();
}
