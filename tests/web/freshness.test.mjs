// Freshness: when no new sample arrives (the edge stopped), the badge turns grey after the
// server's stale_after_s and reads "offline" after offline_after_s; the values are then marked as
// not live. Short limits through the server's dashboard flags keep the test quick.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';

import { launch, openPage, signInByLink, waitFor } from './lib/browser.mjs';
import { nextSample, ServerStack } from './lib/stack.mjs';

const DEVICE = 'roof-1';
const STALE_S = 3;
const OFFLINE_S = 7;
let stack;
let browser;
let page;

before(async () => {
  stack = await new ServerStack({
    devices: { [DEVICE]: 'Europe/Amsterdam' },
    flags: ['--dashboard-stale-after', String(STALE_S), '--dashboard-offline-after', String(OFFLINE_S)],
  }).init();
  await stack.start();
  await stack.loadHistory(DEVICE, { days: 1, step: 60, zone: 'Europe/Amsterdam' });
  browser = await launch();
  page = await openPage(browser, stack.origin);
});

after(async () => {
  await browser?.cleanup();
  await stack?.cleanup();
});

const badge = () => page.$eval('#badge', (b) => ({
  state: b.dataset.state,
  text: b.textContent,
  background: getComputedStyle(b).backgroundColor,
}));

// Grey: red, green and blue within a few steps of each other.
function isGrey(cssColor) {
  const [r, g, b] = cssColor.match(/\d+/g).map(Number);
  return Math.max(r, g, b) - Math.min(r, g, b) <= 16;
}

it('the server tells the page its limits', async () => {
  const me = await stack.api('/v1/me');
  assert.equal(me.stale_after_s, STALE_S);
  assert.equal(me.offline_after_s, OFFLINE_S);
});

it('live, then grey after stale_after_s, then offline after offline_after_s', async () => {
  const previous = await stack.api(`/v1/realtime?device_id=${DEVICE}`);
  const sample = nextSample(previous, { seq: 2_000_000 });
  assert.equal(await stack.ingest(DEVICE, sample), 200);
  // The sample's age is what the limits apply to, and its ts is whole seconds (up to 1 s before
  // now): the clock starts at its ts, not at the ingest.
  const ingested = performance.now() - (Date.now() - Date.parse(sample.ts));
  await signInByLink(page, stack.origin, stack.viewerToken);
  await waitFor(page, () => document.getElementById('badge').dataset.state === 'live');
  const live = await badge();
  assert.match(live.text, /^Live · updated \d+ s ago$/);
  assert.ok(!isGrey(live.background), `live badge is coloured (${live.background})`);
  assert.equal(await page.$eval('#stale-note', (n) => n.hidden), true);

  await waitFor(page, () => document.getElementById('badge').dataset.state === 'stale', undefined, 15_000);
  const staleAt = (performance.now() - ingested) / 1000;
  const stale = await badge();
  assert.ok(staleAt >= STALE_S - 0.5, `stale at the age of ${staleAt.toFixed(1)} s, not before ${STALE_S} s`);
  assert.match(stale.text, /^Updated \d+ s ago$/);
  assert.ok(isGrey(stale.background), `stale badge is grey (${stale.background})`);
  assert.equal(await page.$eval('#stale-note', (n) => n.hidden), false);
  assert.equal(await page.$eval('#flow', (f) => f.dataset.state), 'stale');

  await waitFor(page, () => document.getElementById('badge').dataset.state === 'offline', undefined, 15_000);
  const offlineAt = (performance.now() - ingested) / 1000;
  const offline = await badge();
  assert.ok(offlineAt >= OFFLINE_S - 0.5, `offline at the age of ${offlineAt.toFixed(1)} s, not before ${OFFLINE_S} s`);
  assert.ok(offlineAt < OFFLINE_S + 5, `offline by ${OFFLINE_S} s (was ${offlineAt.toFixed(1)} s)`);
  assert.match(offline.text, /^Offline · last data \d+ s ago$/);
  assert.ok(isGrey(offline.background), `offline badge is grey (${offline.background})`);
  // The flow lines stop moving: nothing is drawn as flowing.
  const moving = await page.$$eval('.flow-line', (lines) => lines.filter((l) => getComputedStyle(l).animationName !== 'none').length);
  assert.equal(moving, 0);
});

it('a new sample makes it live again', async () => {
  const previous = await stack.api(`/v1/realtime?device_id=${DEVICE}`);
  assert.equal(await stack.ingest(DEVICE, nextSample(previous, { seq: 2_000_001 })), 200);
  await waitFor(page, () => document.getElementById('badge').dataset.state === 'live', undefined, 10_000);
  assert.deepEqual(page.problems.errors, []);
});
