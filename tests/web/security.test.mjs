// Security: no CSP violation while every chart is hovered (light and dark); credentials kept to
// their use (viewer token on ingest → 403, ingest token on /v1/session → 401); a cross-origin
// sign-in refused; the link's token gone from the address bar and never stored; every static
// reply with its headers; no token or session id in any server log line.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';

import { launch, openPage, signInByLink } from './lib/browser.mjs';
import { freePort } from './lib/caddy.mjs';
import { hoverAcross, showPeriod, waitForPanels } from './lib/dashboard.mjs';
import { nextSample, ServerStack } from './lib/stack.mjs';

const DEVICE = 'roof-1';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
let stack;
let browser;
let page;
const sessionIds = [];

before(async () => {
  stack = await new ServerStack({ devices: { [DEVICE]: 'Europe/Amsterdam' } }).init();
  await stack.start();
  await stack.loadHistory(DEVICE, { days: 3, step: 60, zone: 'Europe/Amsterdam' });
  browser = await launch();
});

after(async () => {
  await browser?.cleanup();
  await stack?.cleanup();
});

const sessionPost = (body, headers = {}) => fetch(`${stack.origin}/v1/session`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Origin: stack.origin, ...headers },
  body: JSON.stringify(body),
});

describe('the page', () => {
  before(async () => {
    page = await openPage(browser, stack.origin);
    await signInByLink(page, stack.origin, stack.viewerToken);
    await waitForPanels(page);
    for (const cookie of await page.cookies(stack.origin)) sessionIds.push(cookie.value);
  });

  it('took the token out of the address bar and stored it nowhere', async () => {
    assert.equal(page.url(), `${stack.origin}/`);
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes(stack.viewerToken));
    const cookies = await page.cookies(stack.origin);
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0].httpOnly, true);
    assert.equal(cookies[0].sameSite, 'Strict');
    assert.ok(!cookies[0].value.includes(stack.viewerToken));
  });

  for (const scheme of ['light', 'dark']) {
    it(`raises no CSP violation while every chart is hovered (${scheme})`, async () => {
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }]);
      const today = await page.$eval('#period-day', (i) => i.max);
      for (const [view, period] of [['day', today], ['month', today.slice(0, 7)], ['year', today.slice(0, 4)]]) {
        await showPeriod(page, view, period);
        await hoverAcross(page, 40);
        await page.focus('#chart');
        for (const key of ['Home', 'ArrowRight', 'ArrowRight', 'End', 'ArrowLeft']) await page.keyboard.press(key);
      }
      assert.deepEqual(page.problems.csp, []);
      assert.deepEqual(page.problems.errors, []);
      assert.deepEqual(page.problems.foreign, []);
    });
  }

  it('serves every static file with the security headers', async () => {
    const paths = ['/', ...await page.$$eval('link[href^="/assets/"], script[src^="/assets/"], img[src^="/assets/"]',
      (elements) => elements.map((e) => e.getAttribute('href') ?? e.getAttribute('src')))];
    assert.ok(paths.length >= 4);
    for (const path of paths) {
      const response = await fetch(`${stack.origin}${path}`, { headers: { 'Accept-Encoding': 'gzip' } });
      await response.arrayBuffer();
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('content-security-policy'), CSP, path);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', path);
      assert.equal(response.headers.get('cache-control'), path === '/' ? 'no-cache' : 'public, max-age=31536000, immutable', path);
    }
  });
});

describe('signing out', () => {
  it('ends the session on the server, not only in the page', async () => {
    const context = await browser.createBrowserContext();
    try {
      const person = await openPage(context, stack.origin);
      await signInByLink(person, stack.origin, stack.viewerToken);
      const [cookie] = await person.cookies(stack.origin);
      sessionIds.push(cookie.value);
      const asCookie = { Cookie: `${cookie.name}=${cookie.value}` };
      assert.equal((await fetch(`${stack.origin}/v1/me`, { headers: asCookie })).status, 200);
      await person.click('#sign-out');
      await person.waitForSelector('#signin:not([hidden])');
      assert.equal((await fetch(`${stack.origin}/v1/me`, { headers: asCookie })).status, 401);
      assert.deepEqual(person.problems.errors, []);
    } finally {
      await context.close();
    }
  });
});

describe('credentials', () => {
  it('a viewer token cannot ingest (403)', async () => {
    const previous = await stack.api(`/v1/realtime?device_id=${DEVICE}`);
    assert.equal(await stack.ingest(DEVICE, nextSample(previous, { seq: 3_000_000 }), stack.viewerToken), 403);
  });

  it('an ingest token cannot open a session (401)', async () => {
    const response = await sessionPost({ token: stack.deviceTokens[DEVICE] });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('set-cookie'), null);
  });

  it('a sign-in from another origin is refused', async () => {
    const response = await sessionPost({ token: stack.viewerToken }, { Origin: 'https://attacker.example' });
    assert.ok(response.status >= 400 && response.status < 500, `status ${response.status}`);
    assert.equal(response.headers.get('set-cookie'), null);
  });

  it('a cross-site form posted from a browser gets no session', async () => {
    // Another origin's page posts the viewer token as a plain-text form, as CSRF would.
    const port = await freePort();
    const evil = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<form method="POST" action="${stack.origin}/v1/session" enctype="text/plain">` +
        `<input name='{"token":"${stack.viewerToken}","x":"' value='"}'></form>` +
        '<script>document.forms[0].submit()</script>');
    });
    await new Promise((resolve) => evil.listen(port, '127.0.0.2', resolve));
    const context = await browser.createBrowserContext();
    try {
      const attacker = await context.newPage();
      const navigation = attacker.waitForNavigation({ waitUntil: 'load' });
      await attacker.goto(`http://127.0.0.2:${port}/`);
      const response = await navigation;
      assert.ok(response.status() >= 400, `status ${response.status()}`);
      assert.deepEqual(await attacker.cookies(stack.origin), []);
    } finally {
      await context.close();
      evil.close();
    }
  });
});

it('no token or session id appears in any server log line', async () => {
  const secrets = [stack.viewerToken, ...Object.values(stack.deviceTokens), ...sessionIds];
  assert.ok(sessionIds.length > 0);
  assert.ok(stack.logs.length > 0);
  for (const line of stack.logs.split('\n')) {
    for (const secret of secrets) assert.ok(!line.includes(secret), `a secret in: ${line.slice(0, 120)}`);
    assert.ok(!/[?&]token=/.test(line), `a token parameter in: ${line.slice(0, 120)}`);
  }
});
