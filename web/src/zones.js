// IANA time zones with the browser's own Intl: civil dates, local midnights as instants, labels.
// A civil date is { y, m, d } (m 1–12), independent of any zone.

// Browsers list some zones by names the IANA database has since replaced; people (and the
// server's zone files) know the new ones.
const RENAMED = {
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Europe/Kiev': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
};

const current = (zone) => RENAMED[zone] ?? zone;

export function browserZone() {
  try {
    return current(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  } catch {
    return 'UTC';
  }
}

export function isValidZone(zone) {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

// Every zone the browser knows, plus `extra` (the device's, the browser's, UTC), sorted.
export function allZones(extra = []) {
  const known = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set([...known, ...extra, 'UTC'].map(current))].filter(isValidZone).sort();
}

const partsCache = new Map();
function partsFormat(zone) {
  let format = partsCache.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    partsCache.set(zone, format);
  }
  return format;
}

// The wall-clock fields of an instant in `zone`.
export function wallClock(zone, ms) {
  const out = {};
  for (const { type, value } of partsFormat(zone).formatToParts(new Date(ms))) {
    if (type !== 'literal') out[type] = Number(value);
  }
  return { y: out.year, m: out.month, d: out.day, hour: out.hour, minute: out.minute, second: out.second };
}

function offsetMs(zone, ms) {
  const w = wallClock(zone, ms);
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.hour, w.minute, w.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

// The instant a civil date begins in `zone` (its local midnight; where a zone skips midnight, the
// first instant of that date).
export function startOfDay(zone, civil) {
  const guess = Date.UTC(civil.y, civil.m - 1, civil.d);
  let t = guess - offsetMs(zone, guess);
  const second = guess - offsetMs(zone, t);
  if (second !== t) t = Math.min(t, second);
  const w = wallClock(zone, t);
  // Before the date (a skipped midnight pushed us into the previous day): step to the next hour.
  if (w.y !== civil.y || w.m !== civil.m || w.d !== civil.d) t += 3600_000 - (t % 3600_000);
  return t;
}

export function addDays(civil, days) {
  const date = new Date(Date.UTC(civil.y, civil.m - 1, civil.d + days));
  return { y: date.getUTCFullYear(), m: date.getUTCMonth() + 1, d: date.getUTCDate() };
}

export function addMonths(civil, months) {
  const date = new Date(Date.UTC(civil.y, civil.m - 1 + months, 1));
  return { y: date.getUTCFullYear(), m: date.getUTCMonth() + 1, d: 1 };
}

export function today(zone) {
  const w = wallClock(zone, Date.now());
  return { y: w.y, m: w.m, d: w.d };
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

export const isoDate = (c) => `${pad(c.y, 4)}-${pad(c.m)}-${pad(c.d)}`;
export const isoMonth = (c) => `${pad(c.y, 4)}-${pad(c.m)}`;

export function parseIsoDate(text) {
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(text ?? '');
  if (!match) return null;
  return { y: Number(match[1]), m: Number(match[2]), d: match[3] ? Number(match[3]) : 1 };
}

export function compareCivil(a, b) {
  return (a.y - b.y) || (a.m - b.m) || (a.d - b.d);
}

// An instant as the API takes it: RFC 3339 in UTC, whole seconds.
export const utcText = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

// Labels in English with a 24-hour clock, whatever the browser's locale (the page is in English).
const civilFormat = (options) => new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', ...options });
const dayLong = civilFormat({ weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const dayShort = civilFormat({ weekday: 'short', day: 'numeric', month: 'short' });
const monthLong = civilFormat({ month: 'long', year: 'numeric' });
const monthShort = civilFormat({ month: 'short' });
const asDate = (c) => new Date(Date.UTC(c.y, c.m - 1, c.d));

export const formatDayLong = (c) => dayLong.format(asDate(c));
export const formatDayShort = (c) => dayShort.format(asDate(c));
export const formatMonthLong = (c) => monthLong.format(asDate(c));
export const formatMonthShort = (c) => monthShort.format(asDate(c));

export function formatTime(zone, ms, withSeconds = false) {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone, hour: '2-digit', minute: '2-digit', second: withSeconds ? '2-digit' : undefined, hourCycle: 'h23',
  }).format(new Date(ms));
}

// The zone's abbreviation or offset at an instant ("CEST", "GMT+5:30"), to tell repeated hours apart.
export function zoneName(zone, ms) {
  const part = new Intl.DateTimeFormat('en-GB', { timeZone: zone, timeZoneName: 'short' })
    .formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName');
  return part ? part.value : '';
}

// The civil date of a bucket's local start ("2026-10-25T00:00:00+02:00" → 2026-10-25).
export function civilOfLocal(text) {
  return parseIsoDate(String(text).slice(0, 10));
}
