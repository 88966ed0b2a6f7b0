// Parity: every number the dashboard shows equals the API's value after the documented rounding,
// on the night the clocks go back in Europe/Amsterdam (2026-10-25, 25 hours there), seen in
// Europe/Amsterdam, Asia/Kolkata and UTC: Now, Today, and every point of Day, Month and Year.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launch, openPage, shownNumbers, signInByLink } from './lib/browser.mjs';
import { hoverAcross, historyQuery, selectZone, setTable, showPeriod, todayQuery, waitForPanels } from './lib/dashboard.mjs';
import { compare, compareCsv } from './lib/numbers.mjs';
import { ServerStack } from './lib/stack.mjs';

const DEVICE = 'roof-1';
const DST_DAY = '2026-10-25';
const ZONES = [
  { zone: 'Europe/Amsterdam', hours: 25, offset: '+01:00' },
  { zone: 'Asia/Kolkata', hours: 24, offset: '+05:30' },
  { zone: 'UTC', hours: 24, offset: '+00:00' },
];

let stack;
let browser;
let page;

before(async () => {
  stack = await new ServerStack({ devices: { [DEVICE]: 'Europe/Amsterdam' } }).init();
  await stack.start();
  // Three days around the change at the edge's 5 s polling (complete buckets), then the last day
  // up to now at one sample a minute (an incomplete Today and a Now).
  await stack.loadHistory(DEVICE, { days: 3, step: 5, end: '2026-10-27T00:00:00Z', zone: 'Europe/Amsterdam' });
  await stack.loadHistory(DEVICE, { days: 1, step: 60, zone: 'Europe/Amsterdam' });
  browser = await launch();
  page = await openPage(browser, stack.origin);
  await signInByLink(page, stack.origin, stack.viewerToken);
  await waitForPanels(page);
});

after(async () => {
  await browser?.cleanup();
  await stack?.cleanup();
});

// The API's answer to the query the page says it made, read with the viewer's own token.
const apiOf = (path) => stack.api(path);
const byStart = (body) => new Map(body.buckets.map((b) => [b.start, b]));

// The page's CSV link is the chart's own query answered as CSV, with the same numbers.
async function checkCsv(body, fields) {
  const query = await historyQuery(page);
  const href = await page.$eval('#csv', (a) => a.getAttribute('href'));
  assert.equal(href, `${query}&format=csv`);
  const response = await fetch(`${stack.origin}${href}`, { headers: { Authorization: `Bearer ${stack.viewerToken}` } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/csv/);
  assert.deepEqual(compareCsv(await response.text(), body, fields), []);
}

for (const { zone, hours, offset } of ZONES) {
  describe(`in ${zone}`, () => {
    before(async () => {
      await selectZone(page, zone);
    });

    it('Now shows the newest sample', async () => {
      await page.waitForFunction(() => document.querySelector('#flow [data-field="pv_power_w"]').dataset.value !== undefined &&
        document.querySelector('#flow [data-field="pv_power_w"]').dataset.value !== 'null');
      const sample = await apiOf(`/v1/realtime?device_id=${DEVICE}`);
      const shown = await shownNumbers(page, '#flow');
      assert.equal(shown.length, 5);
      assert.deepEqual(compare(shown, () => sample, 'Now'), []);
    });

    it("Today shows today's bucket", async () => {
      const body = await apiOf(await todayQuery(page));
      assert.equal(body.tz, zone);
      assert.equal(body.buckets.length, 1);
      const shown = await shownNumbers(page, 'section.today');
      assert.equal(shown.length, 9);
      assert.ok(shown.some((s) => s.value !== 'null'), 'Today shows some number');
      assert.deepEqual(compare(shown, () => body.buckets[0], 'Today'), []);
    });

    it(`Day ${DST_DAY} (${hours} hours) shows every 5-minute bucket`, async () => {
      await showPeriod(page, 'day', DST_DAY);
      const body = await apiOf(await historyQuery(page));
      assert.equal(body.frame, '5m');
      assert.ok(body.from.startsWith(`${DST_DAY}T00:00:00`), `the page asked for the local day (from ${body.from})`);
      assert.ok(body.to.startsWith('2026-10-26T00:00:00') && body.to.endsWith(offset), `to ${body.to}`);
      assert.equal(body.buckets.length, hours * 12);
      const buckets = byStart(body);
      await checkCsv(body, ['pv_power_w.avg', 'load_power_w.avg', 'grid_power_w.avg', 'battery_power_w.avg', 'battery_soc_pct.last']);

      await setTable(page, true);
      const table = await shownNumbers(page, '#table-box');
      assert.equal(table.length, body.buckets.length * 5, 'five numbers per bucket');
      assert.ok(table.filter((s) => s.value !== 'null').length > body.buckets.length * 4, 'the day has data');
      assert.deepEqual(compare(table, (s) => buckets.get(s.bucket), 'Day table'), []);

      await setTable(page, false);
      const mismatches = [];
      const seen = new Set();
      await hoverAcross(page, 24, async () => {
        const readout = await shownNumbers(page, '#readout');
        seen.add(readout[0]?.bucket);
        mismatches.push(...compare(readout, (s) => buckets.get(s.bucket), 'Day readout'));
      });
      assert.ok(seen.size >= 20, `the readout follows the mouse (${seen.size} buckets)`);
      assert.deepEqual(mismatches, []);
    });

    it('Month 2026-10 shows every day', async () => {
      await showPeriod(page, 'month', '2026-10');
      const body = await apiOf(await historyQuery(page));
      assert.equal(body.frame, 'day');
      assert.ok(body.from.startsWith('2026-10-01T00:00:00'), body.from);
      assert.equal(body.buckets.length, 31);
      const buckets = byStart(body);
      await checkCsv(body, ['pv_energy_kwh', 'consumption_kwh', 'grid_import_kwh', 'grid_export_kwh', 'coverage']);
      await setTable(page, true);
      const table = await shownNumbers(page, '#table-box');
      assert.equal(table.length, 31 * 5, 'four energies and the coverage per day');
      assert.deepEqual(compare(table, (s) => buckets.get(s.bucket), 'Month table'), []);
      // An incomplete day is marked so, a complete one is not.
      const marks = await page.$$eval('#table-box tbody tr', (rows) => rows.map((r) => [r.dataset.bucket, r.classList.contains('incomplete')]));
      for (const [start, marked] of marks) assert.equal(marked, !(buckets.get(start).coverage >= 0.95), `day ${start}`);
      assert.ok(marks.some(([, m]) => !m) && marks.some(([, m]) => m), 'both kinds of day are present');
      await setTable(page, false);
    });

    it('Year 2026 shows every month', async () => {
      await showPeriod(page, 'year', '2026');
      const body = await apiOf(await historyQuery(page));
      assert.equal(body.frame, 'month');
      assert.equal(body.buckets.length, 12);
      const buckets = byStart(body);
      await checkCsv(body, ['pv_energy_kwh', 'consumption_kwh', 'grid_import_kwh', 'grid_export_kwh', 'coverage']);
      await setTable(page, true);
      const table = await shownNumbers(page, '#table-box');
      assert.equal(table.length, 12 * 5);
      assert.deepEqual(compare(table, (s) => buckets.get(s.bucket), 'Year table'), []);
      await setTable(page, false);
      const mismatches = [];
      await hoverAcross(page, 12, async () => {
        mismatches.push(...compare(await shownNumbers(page, '#readout'), (s) => buckets.get(s.bucket), 'Year readout'));
      });
      assert.deepEqual(mismatches, []);
    });

    it('the page ran without errors, CSP violations or other origins', () => {
      assert.deepEqual(page.problems.errors, []);
      assert.deepEqual(page.problems.csp, []);
      assert.deepEqual(page.problems.foreign, []);
    });
  });
}
