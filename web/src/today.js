// The Today panel: today's energy and the self-sufficiency figures, one bucket of the day series
// for the local day in the chosen zone (the server computes every number; this only formats).
import * as api from './api.js';
import { byId } from './dom.js';
import { setNumber } from './format.js';
import { addDays, formatDayLong, startOfDay, today, utcText } from './zones.js';

export class TodayPanel {
  constructor() {
    this.root = byId('today-title').closest('section');
    this.numbers = [...this.root.querySelectorAll('[data-field]')];
    this.generation = 0;
  }

  clear() {
    for (const element of this.numbers) setNumber(element, null);
    this.root.removeAttribute('data-bucket');
  }

  async load(target, zone) {
    const generation = ++this.generation;
    const day = today(zone);
    const params = {
      ...api.targetParams(target),
      frame: 'day',
      from: utcText(startOfDay(zone, day)),
      to: utcText(startOfDay(zone, addDays(day, 1))),
      tz: zone,
    };
    byId('today-date').textContent = formatDayLong(day);
    this.root.dataset.state = 'loading';
    let body;
    try {
      body = await api.series(params);
    } catch (error) {
      if (generation !== this.generation) return;
      byId('today-error').textContent = `Today's numbers could not be loaded (${error.message}).`;
      this.root.dataset.state = 'error';
      if (error.status === 401) throw error;
      return;
    }
    if (generation !== this.generation) return;
    byId('today-error').textContent = '';
    const bucket = body.buckets?.[0] ?? null;
    // What the numbers are, for people's own scripts and the tests: the query and the bucket.
    Object.assign(this.root.dataset, { series: api.seriesUrl(params), bucket: bucket?.start ?? '' });
    for (const element of this.numbers) setNumber(element, bucket ? bucket[element.dataset.field] : null);
    const bar = (id, pct) => {
      byId(id).style.width = `${Math.max(0, Math.min(100, Number.isFinite(pct) ? pct : 0))}%`;
    };
    bar('bar-sufficiency', bucket?.self_sufficiency_pct);
    bar('bar-consumption', bucket?.self_consumption_pct);
    this.root.dataset.state = 'ready';
  }
}
