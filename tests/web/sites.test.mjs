// A household of two inverters (a master and its slave) as one site: the dashboard shows the site
// by default, its numbers are the site API's, each inverter's share is listed under Now, and each
// inverter stays one pick away.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';

import { launch, openPage, signInByLink, waitFor } from './lib/browser.mjs';
import { selectDevice, todayQuery, waitForPanels } from './lib/dashboard.mjs';
import { ServerStack, tempDir } from './lib/stack.mjs';

const ZONE = 'Europe/Amsterdam';
let stack;
let browser;
let page;
let sitesDir;

before(async () => {
  sitesDir = await tempDir('sgsites');
  const sitesFile = join(sitesDir, 'sites');
  await writeFile(sitesFile, '# the household\nhome roof-1=master roof-2=slave\n');
  stack = await new ServerStack({
    devices: { 'roof-1': ZONE, 'roof-2': ZONE },
    flags: ['--sites-file', sitesFile],
  }).init();
  await stack.start();
  await stack.loadHistory('roof-1', { days: 1, step: 60, zone: ZONE });
  await stack.loadHistory('roof-2', { days: 1, step: 60, zone: ZONE });
  browser = await launch();
  page = await openPage(browser, stack.origin);
  await signInByLink(page, stack.origin, stack.viewerToken);
  await waitForPanels(page);
});

after(async () => {
  await browser?.cleanup();
  await stack?.cleanup();
});

it('shows the site by default, with the site API\'s numbers and each inverter under Now', async () => {
  assert.equal(await page.$eval('#device', (s) => s.value), 'site/home');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.site), 'home');
  const site = await stack.api('/v1/sites/realtime?site_id=home');
  await waitFor(page, () => document.querySelector('#flow [data-field="pv_power_w"]').dataset.value !== 'null');
  const shown = async (field) => page.$eval(`#flow [data-field="${field}"]`, (e) => e.dataset.value);
  assert.equal(Number(await shown('pv_power_w')), site.pv_power_w);
  assert.equal(Number(await shown('grid_power_w')), site.grid_power_w);
  assert.equal(Number(await shown('battery_soc_pct')), site.battery_soc_pct);
  const rows = await page.$$eval('#breakdown-rows tr', (trs) => trs.map((tr) => tr.dataset.device));
  assert.deepEqual(rows, ['roof-1', 'roof-2']);
  assert.equal(await page.$eval('#breakdown', (b) => b.hidden), false);
  const state = await page.$eval('#running-state', (e) => e.textContent);
  assert.match(state, /roof-1 .* · roof-2 /);
});

it('counts the site\'s day from the site series', async () => {
  const query = await todayQuery(page);
  assert.match(query, /^\/v1\/sites\/series\?site_id=home&/);
  const body = await stack.api(query);
  const tile = await page.$eval('section.today [data-field="pv_energy_kwh"]', (e) => e.dataset.value);
  assert.equal(Number(tile), body.buckets[0].pv_energy_kwh);
});

it('switches to one inverter and back', async () => {
  await selectDevice(page, 'roof-2');
  assert.equal(await page.$eval('#breakdown', (b) => b.hidden), true);
  assert.match(await todayQuery(page), /^\/v1\/series\?device_id=roof-2&/);
  await page.select('#device', 'site/home');
  await waitFor(page, () => document.documentElement.dataset.site === 'home');
  await waitForPanels(page);
  assert.match(await todayQuery(page), /^\/v1\/sites\/series\?site_id=home&/);
});
