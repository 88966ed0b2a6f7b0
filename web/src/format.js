// The documented display rules: which rounding a field gets, and the element every shown number
// lives in (data-field = the API's field name, dotted for nested ones; data-value = its value).

const DASH = '–';

// W whole, kWh to two decimals, percentages whole, battery state of charge to one decimal,
// coverage (a 0–1 fraction) as a whole percentage. Rounding is JavaScript's: Math.round for
// whole numbers, toFixed for decimals; a result of minus zero is written without its sign.
export function ruleFor(field) {
  const leaf = field.split('.')[0];
  if (leaf === 'battery_soc_pct') return 'soc';
  if (leaf === 'coverage') return 'coverage';
  if (leaf.endsWith('_kwh')) return 'kwh';
  if (leaf.endsWith('_pct')) return 'pct';
  if (leaf.endsWith('_w')) return 'w';
  throw new Error(`no display rule for field ${field}`);
}

function unsignedZero(text) {
  return /^-0(\.0+)?$/.test(text) ? text.slice(1) : text;
}

export function formatValue(field, value, { magnitude = false } = {}) {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  const v = magnitude ? Math.abs(value) : value;
  switch (ruleFor(field)) {
    case 'w':
    case 'pct':
      return unsignedZero(String(Math.round(v)));
    case 'kwh':
      return unsignedZero(v.toFixed(2));
    case 'soc':
      return unsignedZero(v.toFixed(1));
    case 'coverage':
      return unsignedZero(String(Math.round(v * 100)));
    default:
      return DASH;
  }
}

// A value of a nested field ("pv_power_w.avg") of an API object.
export function pick(object, field) {
  let value = object;
  for (const part of field.split('.')) {
    if (value === null || value === undefined) return null;
    value = value[part];
  }
  return value === undefined ? null : value;
}

// Fills an element that carries data-field (and optionally data-sign="magnitude": the text is the
// absolute value, the direction being written next to it in words).
export function setNumber(element, value) {
  const field = element.dataset.field;
  const v = value === undefined ? null : value;
  element.dataset.value = v === null ? 'null' : String(v);
  element.textContent = formatValue(field, v, { magnitude: element.dataset.sign === 'magnitude' });
}

export function numberElement(field, value, props = {}) {
  const span = document.createElement('span');
  span.className = 'num';
  span.dataset.field = field;
  Object.assign(span.dataset, props.dataset ?? {});
  setNumber(span, value);
  return span;
}

// Whole seconds, minutes, hours or days, for "updated 12 s ago".
export function formatAge(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  const days = Math.floor(s / 86400);
  return days === 1 ? '1 day' : `${days} days`;
}
