// Debian's headless Chromium driven by puppeteer-core: a fresh profile per launch, the page's CSP
// violations, console errors and requests to other origins recorded for the tests to assert on.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launch({ extraArgs = [] } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'sgchrome-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, ...extraArgs,
    ],
    protocolTimeout: 60_000,
  });
  browser.cleanup = async () => {
    await browser.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
  };
  return browser;
}

// A page that records what went wrong on it: page.problems.{csp, errors, foreign}. `where` is the
// browser or one of its contexts (a context has cookies of its own: a fresh, signed-out person).
export async function openPage(where, origin, { width = 1280, height = 900, scheme = 'light' } = {}) {
  const page = await where.newPage();
  page.problems = { csp: [], errors: [], foreign: [] };
  await page.setViewport({ width, height });
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: scheme }]);
  await page.exposeFunction('__reportCsp', (text) => page.problems.csp.push(text));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCsp(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  page.on('pageerror', (error) => page.problems.errors.push(String(error?.message ?? error)));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:')) page.problems.foreign.push(url);
  });
  return page;
}

// Opens the dashboard through a `#token=…` link and waits until it shows data.
export async function signInByLink(page, origin, token) {
  await page.goto(`${origin}/#token=${encodeURIComponent(token)}`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#dashboard:not([hidden])', { timeout: 15_000 });
}

export async function waitFor(page, predicate, arg, timeout = 10_000) {
  await page.waitForFunction(predicate, { timeout, polling: 100 }, arg);
}

// Every element carrying a number: its field, exact API value, text and context.
export async function shownNumbers(page, scope = 'body') {
  return page.$$eval(`${scope} [data-field]`, (elements) => elements
    .filter((e) => e.offsetParent !== null || e.closest('[hidden]') === null)
    .map((e) => ({
      field: e.dataset.field,
      value: e.dataset.value,
      sign: e.dataset.sign ?? null,
      text: e.textContent,
      bucket: e.closest('[data-bucket]')?.dataset.bucket ?? null,
    })));
}
