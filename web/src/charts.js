// uPlot charts of the History panel: power lines for a day, grouped energy bars for a month or a
// year (hatched where a bucket is incomplete), a cursor that moves by mouse or keyboard, and
// colours read from the stylesheet so light and dark mode both hold.
import uPlot from 'uplot';

export function palette() {
  const css = getComputedStyle(document.documentElement);
  const get = (name) => css.getPropertyValue(name).trim();
  return {
    pv: get('--c-pv'), load: get('--c-load'), grid: get('--c-grid'), battery: get('--c-battery'),
    soc: get('--c-soc'), import: get('--c-import'), export: get('--c-export'),
    text: get('--c-muted'), rule: get('--c-rule'), surface: get('--c-surface'),
  };
}

// Diagonal stripes in `color` over a faint wash of it: the mark of an incomplete bucket.
function hatch(color) {
  const size = 8 * (window.devicePixelRatio || 1);
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  ctx.globalAlpha = 0.25;
  ctx.fillStyle = color;
  ctx.fillRect(0, 0, size, size);
  ctx.globalAlpha = 1;
  ctx.strokeStyle = color;
  ctx.lineWidth = size / 5;
  ctx.beginPath();
  for (const offset of [-size, 0, size]) {
    ctx.moveTo(offset, size);
    ctx.lineTo(offset + size, 0);
  }
  ctx.stroke();
  return ctx.createPattern(canvas, 'repeat');
}

// "14:00" in `zone`: a 24-hour clock, like the rest of the page.
function hoursMinutes(zone, seconds) {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(new Date(seconds * 1000));
}

const axisFont = '12px system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';

function axis(colors, extra = {}) {
  return {
    stroke: colors.text,
    font: axisFont,
    grid: { stroke: colors.rule, width: 1 },
    ticks: { stroke: colors.rule, width: 1, size: 4 },
    ...extra,
  };
}

// A chart in `container`; `onCursor(index | null)` hears every move of the cursor.
export class Chart {
  constructor(container, onCursor) {
    this.container = container;
    this.onCursor = onCursor;
    this.plot = null;
    this.xs = [];
    this.index = null;
    this.shown = null;
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(container);
    container.addEventListener('keydown', (event) => this.onKey(event));
  }

  size() {
    const width = Math.max(280, Math.floor(this.container.clientWidth));
    return { width, height: Math.round(Math.min(360, Math.max(220, width * 0.5))) };
  }

  resize() {
    if (!this.plot) return;
    const { width, height } = this.size();
    if (width !== this.plot.width || height !== this.plot.height) this.plot.setSize({ width, height });
  }

  destroy() {
    this.plot?.destroy();
    this.plot = null;
  }

  // A redraw of the same points (the minute's refresh) keeps the cursor where the person left it.
  mount(options, data, key) {
    const keep = key === this.shown ? this.index : null;
    this.shown = key;
    this.destroy();
    this.xs = data[0];
    this.index = null;
    const hooks = { setCursor: [(u) => this.cursorMoved(u.cursor.idx)] };
    this.plot = new uPlot({ ...this.size(), ...options, hooks }, data, this.container);
    if (keep !== null && keep < this.xs.length) this.moveTo(keep);
  }

  cursorMoved(index) {
    this.index = index ?? null;
    this.onCursor(this.index);
  }

  // Arrow keys walk the points, Home and End jump to the ends; the readout follows.
  onKey(event) {
    if (!this.plot || this.xs.length === 0) return;
    const last = this.xs.length - 1;
    const current = this.index ?? last;
    const moves = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: last };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const index = Math.max(0, Math.min(last, moves[event.key]));
    this.moveTo(index);
  }

  moveTo(index) {
    const u = this.plot;
    const left = u.valToPos(this.xs[index], 'x');
    const top = Math.round(u.bbox.height / devicePixelRatio / 2);
    u.setCursor({ left, top });
    this.cursorMoved(index);
  }

  // series: [{ label, color, values, scale: 'w' | 'pct', dash? }], xs in Unix seconds; `key`
  // names what is shown (the same key again is a refresh).
  lines(xs, series, zone, key) {
    const colors = palette();
    this.mount({
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      scales: { x: { time: true }, w: { auto: true }, pct: { auto: false, range: [0, 100] } },
      series: [
        {},
        ...series.map((s) => ({
          label: s.label, stroke: colors[s.color], width: 2, scale: s.scale, spanGaps: false,
          dash: s.dash, points: { show: false },
        })),
      ],
      axes: [
        axis(colors, { space: 56, values: (u, splits) => splits.map((ts) => hoursMinutes(zone, ts)) }),
        axis(colors, { scale: 'w', label: 'W', labelFont: axisFont, size: 56, labelSize: 18 }),
        axis(colors, { scale: 'pct', side: 1, label: 'Battery %', labelFont: axisFont, grid: { show: false }, size: 44, labelSize: 18 }),
      ],
    }, [xs, ...series.map((s) => s.values)], key);
  }

  // Grouped bars, one group per label; incomplete[i] hatches group i.
  bars(labels, series, incomplete, key) {
    const colors = palette();
    const n = labels.length;
    const xs = labels.map((_, i) => i);
    const width = 0.8 / series.length;
    const fills = series.map((s) => {
      const solid = colors[s.color];
      const pattern = hatch(solid);
      return incomplete.map((partial) => (partial ? pattern : solid));
    });
    const labelStep = (u) => Math.max(1, Math.ceil((n * 34) / Math.max(1, u.bbox.width / devicePixelRatio)));
    this.mount({
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: { x: { time: false, range: [-0.5, n - 0.5] }, kwh: { auto: true, range: (u, min, max) => [0, Math.max(1, max * 1.08)] } },
      series: [
        {},
        ...series.map((s, k) => ({
          label: s.label, scale: 'kwh', width: 0, fill: colors[s.color], stroke: colors[s.color],
          points: { show: false },
          paths: uPlot.paths.bars({
            disp: {
              x0: { unit: 1, values: () => xs.map((x) => x - 0.4 + k * width) },
              size: { unit: 1, values: () => [width * 0.85] },
              fill: { unit: 3, values: () => fills[k] },
            },
          }),
        })),
      ],
      axes: [
        axis(colors, {
          splits: () => xs,
          values: (u, splits) => splits.map((i) => (i % labelStep(u) === 0 ? labels[i] ?? '' : '')),
          grid: { show: false },
        }),
        axis(colors, { scale: 'kwh', label: 'kWh', labelFont: axisFont, size: 50, labelSize: 18 }),
      ],
    }, [xs, ...series.map((s) => s.values)], key);
  }
}
