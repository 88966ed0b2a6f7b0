// Accessibility and looks: axe-core finds no serious or critical issue on any view, in light and
// dark mode; Tab reaches every control; nothing overflows at 360 px; screenshots of every view
// are saved as test artifacts (WEB_ARTIFACTS_DIR).
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { launch, openPage, signInByLink, waitFor } from './lib/browser.mjs';
import { setTable, showPeriod, waitForPanels } from './lib/dashboard.mjs';
import { nextSample, ServerStack } from './lib/stack.mjs';

const DEVICES = { 'roof-1': 'Europe/Amsterdam', 'garage-2': null };
const artifacts = process.env.WEB_ARTIFACTS_DIR ?? join(process.cwd(), 'web-artifacts');
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let stack;
let browser;

before(async () => {
  await mkdir(artifacts, { recursive: true });
  stack = await new ServerStack({ devices: DEVICES }).init();
  await stack.start();
  // A month at one sample a minute, the last days at the edge's 5 s (complete buckets), and a
  // little for the second inverter so the device picker has something to pick.
  const now = new Date();
  const recent = new Date(Math.floor(now.getTime() / 86_400_000 - 2) * 86_400_000);
  await stack.loadHistory('roof-1', { days: 30, step: 60, end: recent.toISOString(), zone: 'Europe/Amsterdam' });
  await stack.loadHistory('roof-1', { days: 3, step: 5, zone: 'Europe/Amsterdam' });
  await stack.loadHistory('garage-2', { days: 1, step: 300, zone: 'UTC' });
  browser = await launch();
});

after(async () => {
  await browser?.cleanup();
  await stack?.cleanup();
});

async function freshSample() {
  const previous = await stack.api('/v1/realtime?device_id=roof-1');
  await stack.ingest('roof-1', nextSample(previous, { seq: 4_000_000 + Math.floor(Math.random() * 1000) }));
}

async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: true });

describe('weight', () => {
  it('the first load is at most 150 KB as sent (gzip), all from the server itself', async () => {
    const context = await browser.createBrowserContext();
    const page = await openPage(context, stack.origin);
    const client = await page.createCDPSession();
    await client.send('Network.enable');
    await client.send('Network.setCacheDisabled', { cacheDisabled: true });
    const urls = new Map();
    const bytes = new Map();
    client.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
    client.on('Network.loadingFinished', (e) => bytes.set(e.requestId, e.encodedDataLength));
    await signInByLink(page, stack.origin, stack.viewerToken);
    await waitForPanels(page);
    let staticBytes = 0;
    let allBytes = 0;
    for (const [id, size] of bytes) {
      const path = new URL(urls.get(id)).pathname;
      allBytes += size;
      if (path === '/' || path.startsWith('/assets/')) staticBytes += size;
    }
    // The figure the README quotes; the API's answers (the day's 288 buckets of JSON) come on top.
    console.log(`first load: ${staticBytes} bytes of page and assets, ${allBytes - staticBytes} bytes of API answers`);
    assert.ok(staticBytes > 10_000, 'the page was loaded over the network');
    assert.ok(staticBytes <= 150 * 1024, `${staticBytes} bytes`);
    assert.deepEqual(page.problems.foreign, []);
    await context.close();
  });
});

for (const scheme of ['light', 'dark']) {
  describe(`${scheme} mode`, () => {
    let context;
    let page;
    before(async () => {
      context = await browser.createBrowserContext();
      page = await openPage(context, stack.origin, { scheme });
    });
    after(async () => {
      await context?.close();
    });

    it('the sign-in form', async () => {
      await page.goto(`${stack.origin}/`);
      await page.waitForSelector('#signin:not([hidden])');
      assert.deepEqual(await axe(page), []);
      await shot(page, `signin-${scheme}`);
    });

    it('every view', async () => {
      await freshSample();
      await signInByLink(page, stack.origin, stack.viewerToken);
      await waitForPanels(page);
      await waitFor(page, () => document.getElementById('badge').dataset.state === 'live');
      const today = await page.$eval('#period-day', (i) => i.max);
      const problems = [];
      const views = [['day', today], ['month', today.slice(0, 7)], ['year', today.slice(0, 4)]];
      for (const [view, period] of views) {
        await showPeriod(page, view, period);
        problems.push(...(await axe(page)).map((p) => `${view}: ${p}`));
        await shot(page, `${view}-${scheme}`);
        await setTable(page, true);
        problems.push(...(await axe(page)).map((p) => `${view} table: ${p}`));
        await shot(page, `${view}-table-${scheme}`);
        await setTable(page, false);
      }
      assert.deepEqual(problems, []);
      assert.deepEqual(page.problems.errors, []);
      assert.deepEqual(page.problems.csp, []);
    });
  });
}

describe('keyboard and small screens', () => {
  let page;
  before(async () => {
    page = await openPage(await browser.createBrowserContext(), stack.origin, { width: 360, height: 780 });
    await signInByLink(page, stack.origin, stack.viewerToken);
    await waitForPanels(page);
  });

  it('Tab reaches every control', async () => {
    const controls = await page.$$eval(
      'a[href], button:not([disabled]), select, input, [tabindex="0"]',
      (elements) => elements.filter((e) => e.offsetParent !== null).map((e) => e.id || e.textContent.trim()),
    );
    assert.ok(controls.length >= 12, controls.join(', '));
    const reached = new Set();
    await page.evaluate(() => document.activeElement?.blur());
    for (let i = 0; i < controls.length * 3 && reached.size < controls.length; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim()));
    }
    assert.deepEqual(controls.filter((c) => !reached.has(c)), []);
  });

  it('the keyboard moves the chart readout and the day', async () => {
    await showPeriod(page, 'day', await page.$eval('#period-day', (i) => i.max));
    await page.focus('#chart');
    await page.keyboard.press('Home');
    const first = await page.$eval('#readout', (r) => r.dataset.bucket);
    await page.keyboard.press('ArrowRight');
    const second = await page.$eval('#readout', (r) => r.dataset.bucket);
    assert.notEqual(first, second);
    assert.ok(Date.parse(second) > Date.parse(first));
    await page.keyboard.press('PageUp');
    await waitFor(page, () => document.querySelector('section.history').dataset.state === 'ready');
    const before = await page.$eval('section.history', (s) => s.dataset.period);
    assert.ok(before < await page.$eval('#period-day', (i) => i.max), `went back to ${before}`);
  });

  it('fits 360 px without sideways scrolling', async () => {
    for (const view of ['day', 'month', 'year']) {
      await page.click(`#view-${view}`);
      await waitFor(page, () => document.querySelector('section.history').dataset.state === 'ready');
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, `${view}: ${width} px wide`);
    }
    await page.click('#view-day');
    await waitFor(page, () => document.querySelector('section.history').dataset.state === 'ready');
    await shot(page, 'phone-light');
  });

  it('a second inverter is one pick away', async () => {
    assert.equal(await page.$eval('#device-field', (f) => f.hidden), false);
    await page.select('#device', 'garage-2');
    await waitFor(page, () => document.documentElement.dataset.device === 'garage-2');
    const zone = await page.$eval('#zone', (s) => s.value);
    // The server sets no zone for garage-2: the browser's own (the person's choice, if any, wins).
    assert.ok(zone.length > 0);
    await waitFor(page, () => document.querySelector('#flow [data-field="pv_power_w"]').dataset.value !== 'null');
  });
});
