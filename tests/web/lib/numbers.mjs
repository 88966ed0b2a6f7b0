// The dashboard's documented display rules, written out again here so that the tests check the page
// against the documentation rather than against its own code; and the comparison of what a page
// shows with what the API says.

// W and % whole (Math.round), kWh to two decimals and battery SoC to one (toFixed), coverage (a
// fraction) as a whole percentage; "-0" and "-0.00" are written unsigned; null as an en dash.
// data-sign="magnitude" marks numbers shown without their sign, the direction being in words.
export function expectedText(field, value, magnitude = false) {
  if (value === null || value === undefined) return '–';
  const v = magnitude ? Math.abs(value) : value;
  const leaf = field.split('.')[0];
  let text;
  if (leaf === 'battery_soc_pct') text = v.toFixed(1);
  else if (leaf === 'coverage') text = String(Math.round(v * 100));
  else if (leaf.endsWith('_kwh')) text = v.toFixed(2);
  else if (leaf.endsWith('_pct') || leaf.endsWith('_w')) text = String(Math.round(v));
  else throw new Error(`no documented rule for ${field}`);
  return text.replace(/^-(0(\.0+)?)$/, '$1');
}

export function valueOf(object, field) {
  let value = object;
  for (const part of field.split('.')) {
    if (value === null || value === undefined) return null;
    value = value[part];
  }
  return value === undefined ? null : value;
}

// Compares shown numbers ({field, value, text, sign, bucket}) with API objects: `source(shown)`
// returns the object the number should come from. Returns the mismatches, each described.
export function compare(shown, source, where) {
  const mismatches = [];
  for (const item of shown) {
    const object = source(item);
    if (!object) {
      mismatches.push(`${where}: ${item.field} of bucket ${item.bucket}: no such bucket in the API's answer`);
      continue;
    }
    const api = valueOf(object, item.field);
    const valueOk = api === null ? item.value === 'null' : Number(item.value) === api;
    const text = expectedText(item.field, api, item.sign === 'magnitude');
    if (!valueOk || item.text !== text) {
      mismatches.push(`${where}: ${item.field}${item.bucket ? ` @ ${item.bucket}` : ''}: ` +
        `API ${JSON.stringify(api)} → expected "${text}", page shows "${item.text}" (data-value ${item.value})`);
    }
  }
  return mismatches;
}

// The CSV download against the JSON series: one row per bucket, in order, and for each field the
// page shows (CSV names nested fields with "_": pv_power_w_avg) the same number. Returns mismatches.
export function compareCsv(csv, body, fields) {
  const rows = csv.trim().split(/\r?\n/).map((line) => line.split(','));
  const header = rows.shift();
  const mismatches = [];
  if (rows.length !== body.buckets.length) mismatches.push(`CSV has ${rows.length} rows for ${body.buckets.length} buckets`);
  body.buckets.forEach((bucket, i) => {
    const row = rows[i] ?? [];
    if (row[header.indexOf('start')] !== bucket.start) mismatches.push(`CSV row ${i}: start ${row[0]} ≠ ${bucket.start}`);
    for (const field of fields) {
      const column = header.indexOf(field.replace('.', '_'));
      if (column < 0) {
        mismatches.push(`CSV has no column for ${field}`);
        continue;
      }
      const text = row[column];
      const api = valueOf(bucket, field);
      const same = api === null ? text === '' || text === 'null' : Number(text) === api;
      if (!same) mismatches.push(`CSV row ${i} ${field}: "${text}" ≠ ${api}`);
    }
  });
  return mismatches;
}
