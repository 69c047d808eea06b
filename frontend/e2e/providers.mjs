// Browser checks of remote engines as providers (issue 17, item 4), run
// after the area modules of run.mjs: the editor's preset select fills the
// type and base URL of a vLLM server (both editable) and says what quirks
// it handles; a credential in the extra headers is refused at its field;
// extra headers and a health interval are saved, the headers reach the
// server on its health checks, and the list shows the engine and its
// health; changing the preset keeps an address of one's own.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';

/** A vLLM-like server: GET /health and /v1/models, each request's headers kept. */
async function startFakeVLLM() {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push({ path: new URL(req.url, 'http://x').pathname, headers: req.headers });
    if (req.url === '/health') {
      res.writeHead(200);
      res.end();
      return;
    }
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'Qwen/Qwen3-8B', object: 'model', owned_by: 'vllm', max_model_len: 40960 }] }));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"error":{"message":"not found","type":"invalid_request_error"}}');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }) };
}

export async function run({ page, api, tid, nav, shot, step }) {
  const vllm = await startFakeVLLM();
  try {
    const pdlg = tid('provider-dialog');
    const row = page.locator('[data-testid="provider-row"][data-name="gpu"]');

    step('engines: the vLLM preset fills the type and base URL and names its quirks');
    await nav('providers');
    await tid('provider-add').click();
    await tid('provider-preset').selectOption('vllm');
    assert.equal(await tid('provider-type').inputValue(), 'openai');
    assert.equal(await tid('provider-base-url').inputValue(), 'http://localhost:8000/v1');
    await tid('provider-engine-notes').getByText('Stream usage is asked for').waitFor();
    await tid('provider-name').fill('gpu');
    await tid('provider-base-url').fill(vllm.url + '/v1');

    step('engines: a credential in the extra headers is refused at its field');
    await pdlg.getByRole('button', { name: 'Advanced' }).click();
    await tid('provider-health-seconds').fill('5');
    await tid('provider-header-name').first().fill('X-Tenant');
    await tid('provider-header-value').first().fill('team-e2e');
    await tid('provider-header-add').click();
    await tid('provider-header-name').nth(1).fill('Authorization');
    await tid('provider-header-value').nth(1).fill('Bearer sk-not-here');
    await tid('provider-save').click();
    await tid('error-extra_headers').getByText('enter the key in the API key field').waitFor();
    await pdlg.getByRole('button', { name: 'Remove header 2' }).click();
    await shot('provider-engine-editor');

    step('engines: saved with its headers and interval; the list shows the engine and its health');
    await tid('provider-save').click();
    await pdlg.waitFor({ state: 'hidden' });
    assert.equal(await row.getByTestId('provider-engine').innerText(), 'vLLM');
    await row.locator('[data-testid="provider-health"][data-state="ok"]').waitFor({ timeout: 15000 });
    const saved = (await api('GET', '/api/providers')).body.find((p) => p.name === 'gpu');
    assert.equal(saved.preset, 'vllm');
    assert.deepEqual(saved.extra_headers, { 'X-Tenant': 'team-e2e' });
    assert.equal(saved.health_check_seconds, 5);
    assert.equal(saved.health.ok, true);
    const checks = vllm.seen.filter((r) => r.path === '/health');
    assert.ok(checks.length >= 1, 'the health check asked /health');
    assert.ok(checks.every((r) => r.headers['x-tenant'] === 'team-e2e'), 'every health check carried the extra header');
    await shot('providers-engine-health');

    step('engines: another preset keeps an address of one\'s own');
    await row.getByTestId('provider-edit').click();
    assert.equal(await tid('provider-engine-select').inputValue(), 'vllm');
    await tid('provider-engine-select').selectOption('llamacpp');
    assert.equal(await tid('provider-base-url').inputValue(), vllm.url + '/v1');
    await tid('provider-engine-notes').getByText('meta.n_ctx').waitFor();
    await page.keyboard.press('Escape');
    await pdlg.waitFor({ state: 'hidden' });

    assert.equal((await api('DELETE', '/api/providers/gpu')).status, 204);
  } finally {
    await vllm.close();
  }
}
