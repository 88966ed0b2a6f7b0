// Driving the dashboard as a person would: picking a zone, a view and a period, the table view;
// each step waits until the page says the data for exactly that choice is shown.
import { waitFor } from './browser.mjs';

const HISTORY = 'section.history';
const TODAY = 'section.today';

export async function waitForPanels(page) {
  await waitFor(page, ([h, t]) =>
    document.querySelector(h)?.dataset.state === 'ready' && document.querySelector(t)?.dataset.state === 'ready',
  [HISTORY, TODAY], 20_000);
}

export async function selectZone(page, zone) {
  await page.select('#zone', zone);
  await waitFor(page, (z) => document.documentElement.dataset.zone === z, zone);
  await waitForPanels(page);
}

export async function selectDevice(page, device) {
  await page.select('#device', device);
  await waitFor(page, (d) => document.documentElement.dataset.device === d, device);
  await waitForPanels(page);
}

// view: 'day' with period "YYYY-MM-DD", 'month' with "YYYY-MM", 'year' with "YYYY".
export async function showPeriod(page, view, period) {
  await page.click(`#view-${view}`);
  const input = { day: '#period-day', month: '#period-month', year: '#period-year' }[view];
  await page.$eval(input, (element, value) => {
    element.value = value;
    element.dispatchEvent(new Event('change', { bubbles: true }));
  }, period);
  await waitFor(page, ([selector, v, p]) => {
    const data = document.querySelector(selector).dataset;
    return data.state === 'ready' && data.view === v && data.period === p;
  }, [HISTORY, view, period], 20_000);
}

export async function setTable(page, shown) {
  const pressed = await page.$eval('#toggle-table', (b) => b.getAttribute('aria-pressed') === 'true');
  if (pressed !== shown) await page.click('#toggle-table');
  if (shown) await page.waitForSelector('#table-box:not([hidden]) table, #table-box:not([hidden]) p');
  else await page.waitForSelector('#chart-box:not([hidden])');
}

export async function historyQuery(page) {
  return page.$eval(HISTORY, (s) => s.dataset.series);
}

export async function todayQuery(page) {
  return page.$eval(TODAY, (s) => s.dataset.series);
}

// Moves the mouse across the chart's plotting area in `steps` positions; calls back after each.
export async function hoverAcross(page, steps, each = async () => {}) {
  const box = await (await page.$('#chart .u-over')).boundingBox();
  for (let i = 0; i < steps; i++) {
    const x = box.x + 1 + ((box.width - 2) * i) / Math.max(1, steps - 1);
    await page.mouse.move(x, box.y + box.height / 2);
    await each(i);
  }
}
