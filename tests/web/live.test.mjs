// Live: a sample ingested appears on the page within 2 s over the event stream, served directly
// and through Caddy (HTTPS); with the server killed, the page keeps trying and shows new data
// again once the server is back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launch, openPage, signInByLink, waitFor } from './lib/browser.mjs';
import { Caddy } from './lib/caddy.mjs';
import { nextSample, ServerStack, sleep } from './lib/stack.mjs';

const DEVICE = 'roof-1';
let stack;
let seq = 1_000_000;

before(async () => {
  stack = await new ServerStack({ devices: { [DEVICE]: 'Europe/Amsterdam' } }).init();
  await stack.start();
  await stack.loadHistory(DEVICE, { days: 1, step: 60, zone: 'Europe/Amsterdam' });
});

after(async () => {
  await stack?.cleanup();
});

// Ingests a sample (straight to the server, as the edge does) with a PV power no earlier sample
// had; resolves to the ms until `page` shows it.
async function ingestAndTime(page) {
  const previous = await stack.api(`/v1/realtime?device_id=${DEVICE}`);
  const watts = 5000 + (seq % 997);
  seq += 1;
  const started = performance.now();
  assert.equal(await stack.ingest(DEVICE, nextSample(previous, { seq, pv_power_w: watts })), 200);
  await waitFor(page, (w) => document.querySelector('#flow [data-field="pv_power_w"]')?.dataset.value === String(w), watts, 30_000);
  return performance.now() - started;
}

async function expectStreaming(page) {
  await waitFor(page, () => document.getElementById('badge').dataset.transport === 'stream', undefined, 10_000);
}

describe('served directly', () => {
  let browser;
  let page;
  before(async () => {
    browser = await launch();
    page = await openPage(browser, stack.origin);
    await signInByLink(page, stack.origin, stack.viewerToken);
    await expectStreaming(page);
  });
  after(async () => {
    await browser?.cleanup();
  });

  it('shows an ingested sample within 2 s, three times running', async () => {
    for (let i = 0; i < 3; i++) {
      const ms = await ingestAndTime(page);
      assert.ok(ms < 2000, `sample ${i} appeared after ${Math.round(ms)} ms`);
      assert.equal(await page.$eval('#badge', (b) => b.dataset.state), 'live');
    }
  });

  it('recovers after the server is killed and started again', async () => {
    await stack.kill();
    // The page notices: the stream errors, it falls back to polling.
    await waitFor(page, () => document.getElementById('badge').dataset.transport === 'poll', undefined, 30_000);
    await sleep(1000);
    await stack.start();
    // The session lives in the store: no new sign-in. The new sample arrives by polling or by
    // the stream, whichever the page has back first.
    const ms = await ingestAndTime(page);
    assert.ok(ms < 15_000, `after the restart the page showed new data after ${Math.round(ms)} ms`);
    assert.equal(await page.$eval('#signin', (s) => s.hidden), true);
    // And it goes back to the stream.
    await waitFor(page, () => document.getElementById('badge').dataset.transport === 'stream', undefined, 40_000);
    const again = await ingestAndTime(page);
    assert.ok(again < 2000, `back on the stream: ${Math.round(again)} ms`);
    assert.deepEqual(page.problems.csp, []);
  });
});

describe('through Caddy (HTTPS)', () => {
  let caddy;
  let browser;
  let page;
  before(async () => {
    caddy = await new Caddy(`127.0.0.1:${stack.port}`).start();
    browser = await launch({ extraArgs: caddy.browserArgs() });
    page = await openPage(browser, caddy.origin);
    await signInByLink(page, caddy.origin, stack.viewerToken);
    await expectStreaming(page);
  });
  after(async () => {
    await browser?.cleanup();
    await caddy?.stop();
  });

  it('gets a Secure __Host- session cookie', async () => {
    const cookies = await page.cookies(caddy.origin);
    assert.equal(cookies.length, 1, JSON.stringify(cookies.map((c) => c.name)));
    const [cookie] = cookies;
    assert.ok(cookie.name.startsWith('__Host-'), cookie.name);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/');
  });

  it('shows an ingested sample within 2 s, three times running', async () => {
    for (let i = 0; i < 3; i++) {
      const ms = await ingestAndTime(page);
      assert.ok(ms < 2000, `sample ${i} appeared after ${Math.round(ms)} ms`);
    }
    assert.deepEqual(page.problems.csp, []);
    assert.deepEqual(page.problems.errors, []);
  });
});
