// axe-core on every screen, in both themes, and on the jump list and the
// shortcuts dialog: no serious or critical violation; again at 420 px wide
// for the rules a narrow layout can break. It runs last, after
// every area module, so that it sees every screen with data in it.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { frontendDir } from './harness.mjs';

const axePath = join(frontendDir, 'node_modules', 'axe-core', 'axe.min.js');

/** Sets the theme through the side bar's toggle (system → light → dark → system). */
async function theme(page, tid, want) {
  for (let i = 0; i < 3; i++) {
    if ((await page.evaluate(() => document.documentElement.dataset.theme ?? 'system')) === want) return;
    await tid('theme-toggle').click();
  }
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), want, 'the theme toggle reaches ' + want);
}

/** axe-core's serious and critical violations on the page as it is; `rules` limits the run to those rules. */
export async function axe(page, where, rules) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async (rules) => {
    const opts = { resultTypes: ['violations'] };
    if (rules) opts.runOnly = { type: 'rule', values: rules };
    const r = await window.axe.run(document, opts);
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}${n.failureSummary ? ' — ' + n.failureSummary.split('\n').slice(1).join(' ').trim() : ''}`) }));
  }, rules ?? null);
  return found.map((v) => `${where}: ${v.impact} ${v.id} (${v.help})\n    ${v.nodes.join('\n    ')}`);
}

export async function run({ page, tid, nav, step }) {
  await page.setViewportSize({ width: 1240, height: 780 });
  const ids = await page.locator('nav [data-testid^="nav-"]').evaluateAll((as) => as.map((a) => a.dataset.testid.slice(4)));
  const violations = [];
  for (const t of ['light', 'dark']) {
    step(`a11y: axe-core on ${ids.length} screens, ${t} theme`);
    await theme(page, tid, t);
    for (const id of ids) {
      await nav(id);
      await page.waitForTimeout(200); // the screen's first load
      violations.push(...(await axe(page, `${id} (${t})`)));
    }
    await page.keyboard.press('Control+k');
    await tid('palette-input').waitFor();
    violations.push(...(await axe(page, `jump list (${t})`)));
    await page.keyboard.press('Escape');
    await tid('shortcuts-open').click();
    await tid('shortcuts').getByText('Jump to a screen or an action').waitFor();
    violations.push(...(await axe(page, `shortcuts (${t})`)));
    await page.keyboard.press('Escape');
    await tid('shortcuts').waitFor({ state: 'hidden' });
  }
  // A narrow window (420 px) reflows the screens: tables start to scroll
  // inside their panels and headers wrap, which axe must see too. Only the
  // rules whose outcome depends on the layout run here, to keep this short.
  const narrowRules = ['scrollable-region-focusable', 'color-contrast', 'target-size', 'nested-interactive', 'region'];
  for (const t of ['light', 'dark']) {
    step(`a11y: axe-core (layout rules) on ${ids.length} screens at 420 px, ${t} theme`);
    await page.setViewportSize({ width: 1240, height: 780 }); // the theme toggle is in the side bar, folded away at 420 px
    await theme(page, tid, t);
    await page.setViewportSize({ width: 420, height: 780 });
    for (const id of ids) {
      await tid('menu-toggle').click(); // the side bar is folded into the menu at 420 px
      await tid('nav-' + id).click();
      await tid('screen-' + id).waitFor();
      await page.waitForTimeout(150);
      violations.push(...(await axe(page, `${id} at 420 px (${t})`, narrowRules)));
      if (id === 'requests') {
        // The search field and Live go below the title instead of squeezing it.
        const title = await tid('screen-requests').locator('h1').boundingBox();
        const search = await tid('requests-filter').boundingBox();
        assert.ok(search && title && search.y >= title.y + title.height - 1, `at 420 px the requests search sits below the title (title ${JSON.stringify(title)}, search ${JSON.stringify(search)})`);
        assert.ok(search.x + search.width <= 420, 'the requests search fits the window');
      }
    }
  }
  await page.setViewportSize({ width: 1240, height: 780 });
  await theme(page, tid, 'light');
  assert.deepEqual(violations, [], `axe-core found ${violations.length} serious or critical violation(s):\n` + violations.join('\n'));
}
