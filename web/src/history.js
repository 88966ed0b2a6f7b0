// The History panel: Day (5-minute power), Month (energy per day) and Year (energy per month),
// with previous/next and a date picker, a readout of the point under the cursor, a table view of
// every point, and a link to the same series as CSV.
import * as api from './api.js';
import { Chart } from './charts.js';
import { byId, el, show } from './dom.js';
import { numberElement, pick } from './format.js';
import {
  addDays, addMonths, civilOfLocal, compareCivil, formatDayLong, formatDayShort, formatMonthLong,
  formatMonthShort, formatTime, isoDate, isoMonth, parseIsoDate, startOfDay, today, utcText, zoneName,
} from './zones.js';

const COMPLETE = 0.95;

// What each view asks for and shows. `field` is the API's name (dotted for nested values).
const ENERGY = [
  { field: 'pv_energy_kwh', label: 'Solar', color: 'pv' },
  { field: 'consumption_kwh', label: 'Home', color: 'load' },
  { field: 'grid_import_kwh', label: 'Bought', color: 'import' },
  { field: 'grid_export_kwh', label: 'Sold', color: 'export' },
];
const VIEWS = {
  day: {
    frame: '5m',
    unitLabel: 'day',
    series: [
      { field: 'pv_power_w.avg', label: 'Solar', color: 'pv', scale: 'w', unit: 'W' },
      { field: 'load_power_w.avg', label: 'Home', color: 'load', scale: 'w', unit: 'W' },
      { field: 'grid_power_w.avg', label: 'Grid', color: 'grid', scale: 'w', unit: 'W', words: ['importing', 'exporting'] },
      { field: 'battery_power_w.avg', label: 'Battery', color: 'battery', scale: 'w', unit: 'W', words: ['discharging', 'charging'] },
      { field: 'battery_soc_pct.last', label: 'Battery charge', color: 'soc', scale: 'pct', unit: '%', dash: [6, 4] },
    ],
  },
  month: { frame: 'day', unitLabel: 'month', series: ENERGY.map((s) => ({ ...s, unit: 'kWh' })) },
  year: { frame: 'month', unitLabel: 'year', series: ENERGY.map((s) => ({ ...s, unit: 'kWh' })) },
};

// The civil dates a period runs between (end exclusive).
function period(view, anchor) {
  if (view === 'day') return { first: anchor, next: addDays(anchor, 1) };
  if (view === 'month') return { first: { ...anchor, d: 1 }, next: addMonths(anchor, 1) };
  return { first: { y: anchor.y, m: 1, d: 1 }, next: { y: anchor.y + 1, m: 1, d: 1 } };
}

function shift(view, anchor, steps) {
  if (view === 'day') return addDays(anchor, steps);
  if (view === 'month') return addMonths(anchor, steps);
  return { y: anchor.y + steps, m: 1, d: 1 };
}

export class HistoryPanel {
  constructor({ onAuthLost }) {
    this.onAuthLost = onAuthLost;
    this.root = byId('history-title').closest('section');
    this.view = 'day';
    this.anchors = {};
    this.target = null;
    this.zone = 'UTC';
    this.body = null;
    this.tableShown = false;
    this.generation = 0;
    this.chart = new Chart(byId('chart'), (index) => this.readout(index));
    this.wire();
  }

  wire() {
    for (const view of Object.keys(VIEWS)) {
      byId(`view-${view}`).addEventListener('click', () => this.setView(view));
    }
    byId('prev').addEventListener('click', () => this.step(-1));
    byId('next').addEventListener('click', () => this.step(1));
    byId('toggle-table').addEventListener('click', () => this.toggleTable());
    byId('chart').addEventListener('keydown', (event) => {
      if (event.key === 'PageUp') this.step(-1);
      else if (event.key === 'PageDown') this.step(1);
      else return;
      event.preventDefault();
    });
    const onPick = (id, parse) => byId(id).addEventListener('change', (event) => {
      const civil = parse(event.target.value);
      if (civil) this.setAnchor(civil);
    });
    onPick('period-day', parseIsoDate);
    onPick('period-month', parseIsoDate);
    onPick('period-year', (v) => (/^\d{4}$/.test(v) ? { y: Number(v), m: 1, d: 1 } : null));
    // Colours follow the colour scheme: draw again when it changes.
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.render());
  }

  setContext(target, zone) {
    this.target = target;
    this.zone = zone;
    this.load();
  }

  setView(view) {
    this.view = view;
    for (const v of Object.keys(VIEWS)) byId(`view-${v}`).setAttribute('aria-pressed', String(v === view));
    this.load();
  }

  anchor() {
    return this.anchors[this.view] ?? today(this.zone);
  }

  setAnchor(civil) {
    const limit = today(this.zone);
    this.anchors[this.view] = compareCivil(civil, limit) > 0 ? limit : civil;
    this.load();
  }

  step(steps) {
    const next = shift(this.view, this.anchor(), steps);
    if (steps > 0 && compareCivil(period(this.view, next).first, today(this.zone)) > 0) return;
    this.setAnchor(next);
  }

  // Whether the period shown contains now (it may still grow: reloaded every minute).
  isCurrent() {
    const { first, next } = period(this.view, this.anchor());
    const now = today(this.zone);
    return compareCivil(first, now) <= 0 && compareCivil(now, next) < 0;
  }

  toggleTable() {
    this.tableShown = !this.tableShown;
    byId('toggle-table').setAttribute('aria-pressed', String(this.tableShown));
    byId('toggle-table').textContent = this.tableShown ? 'Show as chart' : 'Show as table';
    this.render();
  }

  params() {
    const { first, next } = period(this.view, this.anchor());
    return {
      ...api.targetParams(this.target),
      frame: VIEWS[this.view].frame,
      from: utcText(startOfDay(this.zone, first)),
      to: utcText(startOfDay(this.zone, next)),
      tz: this.zone,
    };
  }

  updateControls() {
    const anchor = this.anchor();
    const word = VIEWS[this.view].unitLabel;
    byId('prev-label').textContent = `Previous ${word}`;
    byId('next-label').textContent = `Next ${word}`;
    byId('period-label').textContent = { day: 'Date', month: 'Month', year: 'Year' }[this.view];
    const inputs = { day: 'period-day', month: 'period-month', year: 'period-year' };
    for (const [view, id] of Object.entries(inputs)) show(byId(id), view === this.view);
    const limit = today(this.zone);
    byId('period-day').value = isoDate(anchor);
    byId('period-day').max = isoDate(limit);
    byId('period-month').value = isoMonth(anchor);
    byId('period-month').max = isoMonth(limit);
    byId('period-year').value = String(anchor.y);
    byId('period-year').max = String(limit.y);
    const first = period(this.view, shift(this.view, anchor, 1)).first;
    byId('next').disabled = compareCivil(first, limit) > 0;
  }

  title(params) {
    const anchor = this.anchor();
    if (this.view === 'month') return `Energy per day, ${formatMonthLong(anchor)}`;
    if (this.view === 'year') return `Energy per month, ${anchor.y}`;
    const hours = (Date.parse(params.to) - Date.parse(params.from)) / 3600_000;
    const note = hours > 24 ? ` (${hours} hours: the clocks went back)` : hours < 24 ? ` (${hours} hours: the clocks went forward)` : '';
    return `Power on ${formatDayLong(anchor)}${note}`;
  }

  async load() {
    if (!this.target) return;
    const generation = ++this.generation;
    const params = this.params();
    this.root.dataset.state = 'loading';
    this.updateControls();
    byId('chart-title').textContent = this.title(params);
    const csv = byId('csv');
    csv.href = api.seriesUrl(params, 'csv');
    csv.download = `${this.target.id}-${this.view}-${this.periodText()}.csv`;
    let body;
    try {
      body = await api.series(params);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error.status === 401) {
        this.onAuthLost();
        return;
      }
      this.body = null;
      byId('history-error').textContent = `The ${this.view} could not be loaded (${error.message}).`;
      this.render();
      this.root.dataset.state = 'error';
      return;
    }
    if (generation !== this.generation) return;
    byId('history-error').textContent = '';
    this.body = body;
    // What is shown, for people's own scripts and the tests: the view, its period, the query.
    Object.assign(this.root.dataset, {
      series: api.seriesUrl(params), view: this.view, period: this.periodText(), frame: params.frame, tz: params.tz,
    });
    this.render();
    this.root.dataset.state = 'ready';
  }

  periodText() {
    const anchor = this.anchor();
    return this.view === 'day' ? isoDate(anchor) : this.view === 'month' ? isoMonth(anchor) : String(anchor.y);
  }

  refreshIfCurrent() {
    if (this.isCurrent()) this.load();
  }

  // The label of bucket i, for the readout and the table.
  bucketLabel(bucket) {
    if (this.view === 'day') {
      const ms = Date.parse(bucket.start_utc);
      return `${formatTime(this.zone, ms)} ${zoneName(this.zone, ms)}`;
    }
    const civil = civilOfLocal(bucket.start);
    return this.view === 'month' ? formatDayShort(civil) : formatMonthLong(civil);
  }

  axisLabel(bucket) {
    const civil = civilOfLocal(bucket.start);
    return this.view === 'month' ? String(civil.d) : formatMonthShort(civil);
  }

  render() {
    const config = VIEWS[this.view];
    const buckets = this.body?.buckets ?? [];
    this.renderLegend(config);
    show(byId('chart-box'), !this.tableShown);
    show(byId('table-box'), this.tableShown);
    if (this.tableShown) {
      this.chart.destroy();
      this.renderTable(config, buckets);
    } else {
      byId('table-box').replaceChildren();
      this.renderChart(config, buckets);
    }
  }

  renderLegend(config) {
    const items = config.series.map((s) => el('li', { className: `key key-${s.color}${s.dash ? ' dashed' : ''}` }, s.label));
    if (this.view !== 'day') items.push(el('li', { className: 'key key-hatch' }, 'hatched: incomplete data'));
    byId('legend').replaceChildren(...items);
  }

  renderChart(config, buckets) {
    const chart = byId('chart');
    const names = config.series.map((s) => s.label.toLowerCase()).join(', ');
    chart.setAttribute('aria-label', `${byId('chart-title').textContent}: ${names}. The table view lists every value.`);
    if (buckets.length === 0) {
      this.chart.destroy();
      byId('readout').replaceChildren('No data for this period.');
      return;
    }
    const values = config.series.map((s) => ({ ...s, values: buckets.map((b) => pick(b, s.field)) }));
    const key = this.root.dataset.series;
    if (this.view === 'day') {
      this.chart.lines(buckets.map((b) => Date.parse(b.start_utc) / 1000), values, this.zone, key);
    } else {
      const incomplete = buckets.map((b) => !(b.coverage >= COMPLETE));
      this.chart.bars(buckets.map((b) => this.axisLabel(b)), values, incomplete, key);
    }
    this.readout(this.chart.index);
  }

  // The numbers of the bucket under the cursor (or the newest with data when there is none).
  readout(index) {
    const buckets = this.body?.buckets ?? [];
    const config = VIEWS[this.view];
    let i = index;
    if (i === null || i === undefined || !buckets[i]) {
      i = buckets.findLastIndex((b) => b.samples > 0);
      if (i < 0) i = buckets.length - 1;
    }
    const bucket = buckets[i];
    const readout = byId('readout');
    if (!bucket) {
      readout.replaceChildren();
      return;
    }
    readout.dataset.bucket = bucket.start;
    const parts = [el('strong', {}, this.bucketLabel(bucket))];
    for (const s of config.series) {
      const value = pick(bucket, s.field);
      const item = el('span', { className: `item key-${s.color}` }, `${s.label} `);
      if (s.words) {
        const number = numberElement(s.field, value, { dataset: { sign: 'magnitude' } });
        item.append(number, ` ${s.unit}`);
        // The direction in words, when the number shown is not 0.
        if (Number(number.textContent)) item.append(` ${value > 0 ? s.words[0] : s.words[1]}`);
      } else {
        item.append(numberElement(s.field, value), ` ${s.unit}`);
      }
      parts.push(item);
    }
    if (this.view !== 'day') {
      const coverage = el('span', { className: 'item' }, 'data ', numberElement('coverage', bucket.coverage), ' % complete');
      if (!(bucket.coverage >= COMPLETE)) coverage.classList.add('incomplete');
      parts.push(coverage);
    }
    readout.replaceChildren(...parts);
  }

  renderTable(config, buckets) {
    const box = byId('table-box');
    if (buckets.length === 0) {
      box.replaceChildren(el('p', {}, 'No data for this period.'));
      return;
    }
    const head = el('tr', {}, el('th', { scope: 'col' }, this.view === 'day' ? 'Time' : this.view === 'month' ? 'Day' : 'Month'));
    for (const s of config.series) head.append(el('th', { scope: 'col' }, `${s.label} (${s.unit})`));
    if (this.view !== 'day') head.append(el('th', { scope: 'col' }, 'Data complete (%)'));
    const rows = buckets.map((bucket) => {
      const row = el('tr', { dataset: { bucket: bucket.start } }, el('th', { scope: 'row' }, this.bucketLabel(bucket)));
      for (const s of config.series) row.append(el('td', {}, numberElement(s.field, pick(bucket, s.field))));
      if (this.view !== 'day') {
        const cell = el('td', {}, numberElement('coverage', bucket.coverage));
        if (!(bucket.coverage >= COMPLETE)) {
          cell.append(' ', el('span', { className: 'tag' }, 'incomplete'));
          row.classList.add('incomplete');
        }
        row.append(cell);
      }
      return row;
    });
    const caption = this.view === 'day'
      ? `${byId('chart-title').textContent}. Averages over 5 minutes; grid + is bought, − is sold; battery + is discharging, − is charging; battery charge at the end of each 5 minutes.`
      : `${byId('chart-title').textContent}. Periods with less than 95 % of the expected samples are marked incomplete.`;
    const table = el('table', {}, el('caption', {}, caption), el('thead', {}, head), el('tbody', {}, ...rows));
    box.replaceChildren(el('div', { className: 'scroll', tabIndex: 0, attrs: { role: 'region', 'aria-label': 'Table of values' } }, table));
  }
}
