// The Now panel: power flow between solar, grid, battery and home, the running state, and a badge
// that says how old the numbers are (grey when stale, "offline" after longer), so an old value is
// never shown as if it were live.
import { byId, show } from './dom.js';
import { formatAge, formatValue, setNumber } from './format.js';
import { formatTime, zoneName } from './zones.js';

// Direction of a signed power by the number shown (rounded to whole W): 0 W has none.
function direction(watts) {
  if (watts === null || watts === undefined) return 0;
  const shown = Number(formatValue('x_w', watts));
  return shown > 0 ? 1 : shown < 0 ? -1 : 0;
}

const ANNOUNCE = {
  none: '',
  live: 'Live data.',
  stale: 'The data is no longer current.',
  offline: 'The inverter is offline.',
};

export class NowPanel {
  constructor() {
    this.flow = byId('flow');
    this.badge = byId('badge');
    this.staleNote = byId('stale-note');
    this.numbers = [...this.flow.querySelectorAll('[data-field]')];
    this.sample = null;
    this.receivedAt = 0;
    this.limits = { stale: 30, offline: 300 };
    this.zone = 'UTC';
    this.noData = false;
    this.timer = setInterval(() => this.tick(), 1000);
  }

  setLimits(staleAfter, offlineAfter) {
    this.limits = { stale: staleAfter, offline: offlineAfter };
    this.tick();
  }

  setZone(zone) {
    this.zone = zone;
    if (this.sample) this.render();
  }

  reset() {
    this.sample = null;
    this.noData = false;
    for (const element of this.numbers) setNumber(element, null);
    this.render();
  }

  showNoData() {
    if (this.sample) return;
    this.noData = true;
    this.tick();
  }

  setTransport(kind) {
    this.badge.dataset.transport = kind;
  }

  update(sample, receivedAt) {
    this.sample = sample;
    this.receivedAt = receivedAt;
    this.noData = false;
    this.render();
  }

  render() {
    const s = this.sample;
    for (const element of this.numbers) setNumber(element, s ? s[element.dataset.field] : null);
    const pv = direction(s?.pv_power_w);
    const grid = direction(s?.grid_power_w);
    const battery = direction(s?.battery_power_w);
    const load = direction(s?.load_power_w);
    byId('dir-pv').textContent = !s ? '' : pv > 0 ? 'producing' : 'not producing';
    byId('dir-grid').textContent = !s ? '' : grid > 0 ? 'importing' : grid < 0 ? 'exporting' : 'idle';
    byId('dir-battery').textContent = !s ? '' : battery > 0 ? 'discharging' : battery < 0 ? 'charging' : 'idle';
    byId('dir-home').textContent = !s ? '' : load > 0 ? 'using' : load < 0 ? 'supplying' : 'idle';
    // Line classes: which way the energy moves, relative to the hub in the middle.
    this.setLine('line-pv', pv > 0 ? 'to-hub' : null);
    this.setLine('line-grid', grid > 0 ? 'to-hub' : grid < 0 ? 'from-hub' : null);
    this.setLine('line-battery', battery > 0 ? 'to-hub' : battery < 0 ? 'from-hub' : null);
    this.setLine('line-home', load > 0 ? 'from-hub' : load < 0 ? 'to-hub' : null);
    byId('running-state').textContent = s?.running_state_text ?? '–';
    const ts = s ? Date.parse(s.ts) : NaN;
    byId('sample-time').textContent = Number.isFinite(ts)
      ? `· sample of ${formatTime(this.zone, ts, true)} ${zoneName(this.zone, ts)}`
      : '';
    byId('sample-time').dataset.ts = s?.ts ?? '';
    this.tick();
  }

  setLine(id, way) {
    const line = byId(id);
    line.classList.toggle('to-hub', way === 'to-hub');
    line.classList.toggle('from-hub', way === 'from-hub');
  }

  // The sample's age is the server's age_s at receipt plus the time since, on this page's own
  // monotonic clock: a browser whose clock is wrong still shows the right age.
  age() {
    if (!this.sample) return null;
    const base = Number(this.sample.age_s);
    return (Number.isFinite(base) ? base : 0) + (performance.now() - this.receivedAt) / 1000;
  }

  tick() {
    const age = this.age();
    let state;
    let text;
    if (age === null) {
      state = 'none';
      text = this.noData ? 'No data from this inverter yet' : 'Waiting for data…';
    } else if (age >= this.limits.offline) {
      state = 'offline';
      text = `Offline · last data ${formatAge(age)} ago`;
    } else if (age >= this.limits.stale) {
      state = 'stale';
      text = `Updated ${formatAge(age)} ago`;
    } else {
      state = 'live';
      text = `Live · updated ${formatAge(age)} ago`;
    }
    if (this.badge.textContent !== text) this.badge.textContent = text;
    // Screen readers hear the changes of state, not every second of the clock.
    if (this.badge.dataset.state !== state) byId('state-announce').textContent = ANNOUNCE[state];
    this.badge.dataset.state = state;
    this.flow.dataset.state = state;
    const notLive = state === 'stale' || state === 'offline';
    show(this.staleNote, notLive);
    if (notLive) {
      this.staleNote.textContent = state === 'offline'
        ? 'The inverter has sent nothing for a while: these are the last values received, not the present.'
        : 'No new data for a little while: these values may no longer be current.';
    }
  }
}
