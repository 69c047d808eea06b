// Browser checks of the Models screen's Discover tab (issue 15): search the
// (fake) Hub, read a repo's facts, download it with live progress from the
// downloads events, see it under Local models at once, route a name to it
// in one click, and chat with it through the local engine. modelbar runs
// with HF_ENDPOINT at the fake Hub (frontend/e2e/fakehub: the repo's
// hubtest with a tiny MLX model, its file host throttled so the progress
// can be seen) and HF_HOME in the test's temp dir.

import assert from 'node:assert/strict';
import { axe } from './a11y.mjs';

const repo = 'mlx-community/e2e-tiny-llama';

export async function run({ page, api, tid, nav, shot, step }) {
  const inFacts = (sel) => page.locator(`[data-testid="discover-facts"] ${sel}`);

  step('discover: search the Hub from the Models screen');
  await nav('models');
  await tid('models-tab-discover').click();
  await page.locator('[data-search]').fill('e2e');
  await tid('discover-go').click();
  const result = page.locator(`[data-testid="discover-result"][data-repo="${repo}"]`);
  await result.waitFor();
  assert.match(await result.innerText(), /4,242 downloads/);

  step("discover: a repo's facts: files, size, supported, fits");
  await result.click();
  await page.locator('[data-testid="facts-supported"][data-supported="true"]').waitFor();
  await page.locator('[data-testid="facts-fits"][data-fits="true"]').waitFor();
  assert.equal(await tid('facts-arch').innerText(), 'llama');
  assert.match(await tid('facts-size').innerText(), /(KiB|MiB) in \d+ files/);
  assert.match(await tid('facts-fits').innerText(), /allowed for the KV cache/);
  await shot('discover-facts');

  step('discover: download, with live progress from the events');
  await tid('discover-download').click();
  await page.waitForFunction(() => {
    const bar = document.querySelector('[data-testid="discover-facts"] [role="progressbar"]');
    const n = Number(bar?.getAttribute('aria-valuenow'));
    return n > 0 && n < 100;
  }, null, { timeout: 30000 });
  assert.match(await inFacts('[data-testid="download-progress-text"]').innerText(), /Downloading \d+% · .+ of .+/);
  await shot('discover-progress');
  const row = page.locator(`[data-testid="download-row"][data-repo="${repo}"]`);
  await row.and(page.locator('[data-state="done"]')).waitFor({ timeout: 60000 });
  const dl = (await api('GET', '/api/downloads')).body.find((d) => d.repo === repo);
  assert.equal(dl?.state, 'done', JSON.stringify(dl));

  step('discover: Cancel stops a download and says the partial files are kept');
  await page.locator('[data-testid="discover-result"][data-repo="mlx-community/e2e-to-cancel"]').click();
  await page.locator('[data-testid="facts-supported"][data-supported="true"]').waitFor();
  await tid('discover-download').click();
  await inFacts('[data-testid="download-cancel"]').click();
  assert.match(await tid('discover-notice').innerText(), /partial files are kept/);
  await page.locator('[data-testid="download-row"][data-repo="mlx-community/e2e-to-cancel"][data-state="cancelled"]').waitFor();
  assert.match(await tid('discover-download').innerText(), /^Download again/);

  step('discover: a gated repo says a Hub token is needed');
  await page.locator('[data-testid="discover-result"][data-repo="mlx-community/e2e-gated"]').click();
  // Without a granted token the Hub refuses a gated repo: said in plain
  // words, at the facts or at Download, with the way to set a token.
  await page.locator('[data-testid="facts-gated"], [data-testid="facts-error"]').first().waitFor();
  if (await tid('facts-gated').count()) {
    assert.match(await tid('facts-gated').innerText(), /gated/);
    await tid('discover-download').click();
    assert.match(await tid('discover-start-error').innerText(), /token/i);
  } else {
    assert.match(await tid('facts-error').innerText(), /gated/);
  }
  await tid('token-help').first().getByRole('button', { name: 'Set a Hub token' }).click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'hub-token-input');

  step('discover: axe-core on the tab (results, an error, the downloads, the token form)');
  assert.deepEqual(await axe(page, 'discover'), []);

  step('discover: the 420 px window keeps the tab inside the page');
  await page.setViewportSize({ width: 420, height: 780 });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 420), 'no page-wide horizontal scroll at 420 px');
  assert.deepEqual(await axe(page, 'discover at 420 px', ['scrollable-region-focusable', 'color-contrast', 'target-size', 'nested-interactive', 'region']), []);
  await shot('discover-narrow');
  await page.setViewportSize({ width: 1240, height: 780 });

  step('discover: the model is under Local models at once; route a name to it');
  await tid('models-tab-local').click();
  await page.locator(`[data-testid="model-row"][data-model="${dl.model_id}"]`).waitFor();
  await page.locator(`[data-testid="models-fresh"][data-model="${dl.model_id}"] [data-testid="models-fresh-route"]`).click();
  await tid('route-dialog').waitFor();
  assert.equal(await tid('route-pattern').inputValue(), 'e2e-tiny-llama');
  assert.equal(await tid('route-backend').inputValue(), 'local');
  assert.equal(await tid('route-backend-model').inputValue(), dl.model_id);
  await tid('route-save').click();
  await page.locator('[data-testid="route-row"][data-pattern="e2e-tiny-llama"]').waitFor();

  step('discover: chat with the downloaded model');
  await nav('chat');
  await tid('chat-new').click();
  await tid('chat-model').fill('e2e-tiny-llama');
  await tid('chat-input').fill('Hello, tiny model');
  await tid('chat-send').click();
  await page.locator('[data-testid="chat-assistant"]').last().and(page.locator('[data-end="done"]')).waitFor({ timeout: 60000 });
  const logged = (await api('GET', '/api/requests?limit=5')).body.find((r) => r.model === 'e2e-tiny-llama');
  assert.equal(logged?.backend, 'local', JSON.stringify(logged));
  assert.equal(logged?.status, 200, JSON.stringify(logged));
}
