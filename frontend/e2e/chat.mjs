// Browser checks of the chat (issue 14, "a chat worth using"): markdown, a
// tool call, Stop as a neutral end, a conversation that survives a reload,
// and the failover state while a failing provider is retried. Runs at the
// end of run.mjs's scenario, which has signed the browser out and rotated
// the admin token: it signs in again (ctx.api reads the new token).

import assert from 'node:assert/strict';
import { uiLink } from './harness.mjs';

export async function run({ page, api, mb, tid, nav, shot, step }) {
  const route = async (pattern, model, fallbacks = []) => {
    const r = await api('POST', '/api/routes', { model_pattern: pattern, backend: 'fake', backend_model: model, fallbacks, priority: 50, enabled: true });
    assert.equal(r.status, 201, `route ${pattern}: ${JSON.stringify(r.body)}`);
  };
  const last = (id) => tid(id).last();
  async function ask(model, text) {
    await tid('chat-model').fill(model);
    await tid('chat-input').fill(text);
    await tid('chat-send').click();
  }
  async function answered() {
    await page.locator('[data-testid="chat-assistant"]').last().and(page.locator('[data-end="done"]')).waitFor();
  }

  step('chat: sign in again; routes to the fake provider modes');
  await page.goto(uiLink(mb));
  await tid('screen-routes').waitFor();
  await route('e2e-md', 'fake-markdown');
  await route('e2e-tool', 'fake-tool');
  await route('e2e-plain', 'fake-small');
  await route('e2e-busy', 'rate-limited-once');
  await route('e2e-failover', 'always-429', ['backup:slow-start']);
  await route('e2e-same', 'fail-503', ['fake:fake-small']); // a failover between two models of one provider
  // One retry, and a Retry-After of 1 s is waited for rather than skipped
  // (put back at the end, for the checks that may follow).
  const before = (await api('GET', '/api/settings')).body;
  const s = await api('PUT', '/api/settings', { max_retries: 1, retry_backoff_max_ms: 2000, cooldown_failures: -1 });
  assert.equal(s.status, 200, JSON.stringify(s.body));

  step('chat: a markdown answer renders as such');
  await nav('chat');
  await tid('chat-new').click();
  await ask('e2e-md', 'Show me a table');
  await answered();
  const md = last('chat-answer');
  await md.locator('h2', { hasText: 'Fake results' }).waitFor();
  assert.equal(await md.locator('table td').count(), 4);
  assert.equal(await md.locator('pre code.language-python .hljs-keyword').first().innerText(), 'def');
  assert.equal(await md.locator('pre code b').count(), 0, 'HTML in code stays text');
  const copy = md.getByRole('button', { name: 'Copy the python code' });
  await copy.click();
  await md.getByRole('button', { name: /Copy the python code/ }).filter({ hasText: /Copied|Copy failed/ }).waitFor();
  await last('chat-speed').waitFor();
  await last('chat-ttft').waitFor();
  await shot('chat-markdown');

  step('chat: a tool call answer is shown as a tool call');
  await ask('e2e-tool', 'Weather in Paris?');
  await answered();
  const call = last('chat-tool-call');
  assert.equal(await call.getByTestId('chat-tool-name').innerText(), 'get_weather');
  await call.locator('summary').click();
  assert.equal(await call.getByTestId('chat-tool-args').innerText(), '{\n  "city": "Paris",\n  "unit": "C"\n}');
  await last('chat-tool-reply').waitFor();

  step('chat: Stop is a neutral end');
  await ask('e2e-plain', 'Tell me a long story');
  await page.waitForFunction(() => {
    const a = [...document.querySelectorAll('[data-testid="chat-answer"]')].pop();
    return !!a && a.textContent.includes('Hello');
  });
  await tid('chat-stop').click();
  const stopped = page.locator('[data-testid="chat-assistant"][data-end="stopped"]');
  await stopped.waitFor();
  await stopped.getByTestId('chat-stopped').waitFor();
  assert.equal(await stopped.getByTestId('chat-error').count(), 0, 'no error for a stop');
  assert.equal(await stopped.getByRole('alert').count(), 0);
  await tid('chat-send').waitFor();

  step('chat: the conversation survives a reload');
  const convs = await api('GET', '/api/conversations');
  const saved = convs.body.find((c) => c.title === 'Show me a table');
  assert.ok(saved, 'the conversation is saved: ' + JSON.stringify(convs.body.map((c) => c.title)));
  await page.waitForFunction(async (id) => {
    const r = await fetch('/api/conversations/' + id);
    const c = await r.json();
    return c.messages.some((m) => m.end === 'stopped');
  }, saved.id);
  await page.reload();
  await tid('screen-chat').waitFor();
  await tid('chat-user').nth(2).waitFor();
  assert.equal(await tid('chat-user').count(), 3);
  await tid('chat-answer').first().locator('h2', { hasText: 'Fake results' }).waitFor();
  await tid('chat-tool-call').first().waitFor();
  await page.locator('[data-testid="chat-assistant"][data-end="stopped"]').waitFor();
  await page.locator(`[data-testid="chat-conversation"][data-id="${saved.id}"]`).waitFor();

  step('chat: a retried provider shows "retrying rate-limited-once at fake (429)… in 1.0 s", counting down');
  await ask('e2e-busy', 'Are you busy?');
  const retrying = last('chat-attempt').filter({ hasText: /retrying rate-limited-once at fake \(429\)/ });
  await retrying.waitFor({ timeout: 5000 });
  await shot('chat-retrying');
  const first = await retrying.innerText().catch(() => '');
  if (/ in \d/.test(first)) {
    // The wait (Retry-After: 1) counts down while it lasts: a later reading shows less left, or the retry under way.
    const left = (t) => Number(/ in ([\d.]+) s/.exec(t)?.[1] ?? 0);
    await page.waitForFunction(
      ([was]) => {
        const t = [...document.querySelectorAll('[data-testid="chat-attempt"]')].pop()?.textContent ?? '';
        const m = / in ([\d.]+) s/.exec(t);
        return !t || t.includes(' now…') || (m && Number(m[1]) < was);
      },
      [left(first)],
      { timeout: 3000 },
    );
  }
  await answered();
  assert.equal(await page.locator('[data-testid="chat-assistant"]').last().getByTestId('chat-attempt').count(), 0, 'the retry state ends with the answer');
  assert.equal(await last('chat-backend').innerText(), 'fake');

  step('chat: a failing provider fails over to the backup, visibly');
  await ask('e2e-failover', 'Anyone there?');
  await last('chat-attempt').filter({ hasText: /retrying always-429 at fake \(429\)/ }).waitFor({ timeout: 5000 });
  await last('chat-attempt').filter({ hasText: /failing over to backup/ }).waitFor({ timeout: 5000 });
  await answered();
  assert.equal(await last('chat-backend').innerText(), 'backup');
  await last('chat-fallback').filter({ hasText: /^always-429 at fake failed \(HTTP 429\); answered by slow-start at backup$/ }).waitFor({ timeout: 3000 });

  step('chat: a failover between two models of one provider names both models');
  await ask('e2e-same', 'Which model?');
  await answered();
  assert.equal(await last('chat-backend').innerText(), 'fake');
  await last('chat-fallback').filter({ hasText: /^fail-503 at fake failed \(HTTP 503\); answered by fake-small at fake$/ }).waitFor({ timeout: 3000 });

  step('chat: Edit focuses its box, the caret at the end');
  await last('chat-edit').click();
  const box = last('chat-edit-input');
  await page.waitForFunction(() => {
    const el = document.activeElement;
    return el?.getAttribute('data-testid') === 'chat-edit-input' && el.selectionStart === el.value.length && el.selectionEnd === el.value.length;
  });
  assert.equal(await box.inputValue(), 'Which model?');
  await page.keyboard.type(' Really?');
  assert.equal(await box.inputValue(), 'Which model? Really?');
  await page.keyboard.press('Escape');

  step('chat: with inference keys required the signed-in chat needs no key, and keeps none');
  const keyed = await api('PUT', '/api/settings', { require_api_keys: true });
  assert.equal(keyed.status, 200, JSON.stringify(keyed.body));
  try {
    // The page's own fetch without the cookie is refused: keys are required.
    const bare = await page.evaluate(async () => (await fetch('/v1/models', { credentials: 'omit' })).status);
    assert.equal(bare, 401);
    await page.reload();
    await tid('screen-chat').waitFor();
    await page.getByRole('button', { name: 'Reload the model list' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#chat-models option').length > 0);
    assert.equal(await page.getByText(/model list:/).count(), 0, 'no model list error');
    await ask('e2e-plain', 'Keys on?');
    await answered();
    assert.match(await last('chat-answer').innerText(), /Hello from the fake provider \(fake-small\)\. You said: Keys on\?/);
    assert.equal(await page.evaluate(() => JSON.stringify({ ...sessionStorage }).includes('chat-key')), false, 'no key in sessionStorage');
  } finally {
    assert.equal((await api('PUT', '/api/settings', { require_api_keys: false })).status, 200);
  }

  step('chat: a new chat on modelbar:new-chat (Cmd/Ctrl+N), the old one listed');
  await page.evaluate(() => window.dispatchEvent(new CustomEvent('modelbar:new-chat')));
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="chat-user"]').length === 0);
  await page.locator(`[data-testid="chat-conversation"][data-id="${saved.id}"]`).getByTestId('chat-conversation-open').click();
  await tid('chat-user').nth(4).waitFor();

  const { max_retries, retry_backoff_max_ms, cooldown_failures } = before;
  assert.equal((await api('PUT', '/api/settings', { max_retries, retry_backoff_max_ms, cooldown_failures })).status, 200);
}
