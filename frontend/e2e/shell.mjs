// The app's shell in the browser suite: the narrow layouts (the side bar
// folds into a menu under 900 px; every section stays reachable and no
// screen widens the page) and the keyboard shortcuts. It runs after every
// area module, so it sees every screen with data in it.

import assert from 'node:assert/strict';

/** The screens, as the side bar lists them. */
async function screenIds(page) {
  return page.locator('nav [data-testid^="nav-"]').evaluateAll((as) => as.map((a) => a.dataset.testid.slice(4)));
}

/**
 * What cannot be reached on the current screen: a page or main area wider
 * than the window, or a control that sticks out of the window without a
 * scrolling box of its own to bring it back.
 */
function unreachable() {
  const out = [];
  const vw = window.innerWidth;
  const doc = document.scrollingElement;
  if (doc.scrollWidth > vw + 1) out.push(`the page is ${doc.scrollWidth}px wide in a ${vw}px window`);
  const main = document.querySelector('main');
  if (main && main.scrollWidth > main.clientWidth + 1) out.push(`the main area scrolls sideways (${main.scrollWidth}px in ${main.clientWidth}px)`);
  const scrollsX = (el) => {
    for (let p = el.parentElement; p && p !== main; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if ((ox === 'auto' || ox === 'scroll') && p.scrollWidth > p.clientWidth) return true;
    }
    return false;
  };
  for (const el of main?.querySelectorAll('button, a[href], input, select, textarea, [tabindex="0"]') ?? []) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.closest('[hidden], dialog:not([open])')) continue;
    if ((r.right > vw + 1 || r.left < -1) && !scrollsX(el)) {
      out.push(`${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') || el.textContent || el.getAttribute('data-testid') || '').trim().slice(0, 40)}" at ${Math.round(r.left)}..${Math.round(r.right)}px`);
    }
  }
  return out;
}

export async function run({ page, tid, step, shot }) {
  const ids = await screenIds(page);
  assert.ok(ids.includes('start') && ids.includes('connect'), `the side bar lists the guide and Connect: ${ids}`);
  const problems = [];

  for (const width of [900, 720, 420]) {
    step(`shell: ${width} px wide: every screen reachable, none wider than the window`);
    await page.setViewportSize({ width, height: 760 });
    const folded = width < 900;
    assert.equal(await tid('menu-toggle').isVisible(), folded, `the menu button ${folded ? 'shows' : 'hides'} at ${width} px`);
    for (const id of ids) {
      if (folded) {
        await tid('menu-toggle').click();
        assert.equal(await tid('menu-toggle').getAttribute('aria-expanded'), 'true');
      }
      await tid('nav-' + id).click();
      await tid('screen-' + id).waitFor();
      if (folded) assert.equal(await tid('nav-' + id).isVisible(), false, 'the menu closes on a choice');
      await page.waitForTimeout(150); // the screen's first load
      for (const p of await page.evaluate(unreachable)) problems.push(`${width} px, ${id}: ${p}`);
    }
    if (folded) {
      await tid('menu-toggle').click();
      await tid('side-url-openai').waitFor();
      await shot(`narrow-${width}-menu`);
      await page.keyboard.press('Escape'); // Esc closes the menu
      await tid('nav-routes').waitFor({ state: 'hidden' });
      await tid('top-copy-url').waitFor(); // the URL stays one tap away
    }
    await tid('nav-routes').click({ trial: !folded }).catch(() => {}); // no-op: keeps the last screen
  }
  await page.setViewportSize({ width: 1240, height: 780 });
  assert.deepEqual(problems, [], 'unreachable at a narrow width:\n' + problems.join('\n'));

  step('shell: Ctrl+K jumps to a screen; Esc closes it');
  await tid('nav-routes').click();
  await page.keyboard.press('Control+k');
  await tid('palette-input').waitFor();
  await page.keyboard.type('connect');
  await page.keyboard.press('Enter');
  await tid('screen-connect').waitFor();
  await tid('palette-input').waitFor({ state: 'detached' });
  await page.keyboard.press('Control+k');
  await tid('palette-input').waitFor();
  await page.keyboard.press('Escape');
  await tid('palette-input').waitFor({ state: 'detached' });

  step('shell: ? lists the shortcuts');
  await page.evaluate(() => document.activeElement?.blur()); // focus out of any field
  await page.keyboard.press('?');
  await tid('shortcuts').getByText('Jump to a screen or an action').waitFor();
  await page.keyboard.press('Escape');
  await tid('shortcuts').waitFor({ state: 'hidden' });

  step('shell: Ctrl+N opens Chat and asks it for a new conversation');
  await page.evaluate(() => {
    window.__newChats = 0;
    addEventListener('modelbar:new-chat', () => window.__newChats++);
  });
  await page.keyboard.press('Control+n');
  await tid('screen-chat').waitFor();
  await page.waitForFunction(() => window.__newChats === 1);
  await tid('nav-providers').click();
  await page.keyboard.press('Control+k');
  await page.keyboard.type('new chat');
  await page.keyboard.press('Enter');
  await tid('screen-chat').waitFor();
  await page.waitForFunction(() => window.__newChats === 2);

  step('shell: / focuses the screen\'s search field, where it has one');
  // These screens always show a search or filter field; a screen not listed
  // (Chat, Providers' model filter) is checked when it shows one.
  const mustSearch = { routes: 'route-tester-input', requests: 'requests-filter', connect: 'connect-find' };
  let searched = 0;
  for (const id of ids) {
    await tid('nav-' + id).click();
    await tid('screen-' + id).waitFor();
    const field = mustSearch[id];
    if (field) assert.equal(await tid(field).getAttribute('data-search'), '', `${id}'s ${field} is marked data-search`);
    else if (!(await page.locator('main [data-search]:visible').count())) continue;
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.hasAttribute('data-search')), true, `/ on ${id}`);
    if (field) assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), field, `/ on ${id} focuses ${field}`);
    searched++;
  }
  for (const id of Object.keys(mustSearch)) assert.ok(ids.includes(id), `the side bar has ${id}`);
  step(`shell: / checked on ${searched} screen(s) with a search field`);
  await tid('nav-routes').click();
}
