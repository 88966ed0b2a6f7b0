// When a site is shown, the Now panel's table of each inverter's share: its solar and battery
// power, its battery's charge, and how old its sample is (the sums are only as fresh as the
// oldest).
import { byId, el, show } from './dom.js';
import { formatAge, numberElement } from './format.js';

export function showBreakdown(site) {
  const rows = (site?.devices ?? []).map((d) => {
    const s = d.realtime;
    const cells = [
      el('th', { attrs: { scope: 'row' } }, d.device_id, el('span', { className: 'muted' }, ` · ${d.role}`)),
      el('td', {}, numberElement('pv_power_w', s?.pv_power_w ?? null), ' W'),
      el('td', {}, numberElement('battery_power_w', s?.battery_power_w ?? null), ' W'),
      el('td', {}, numberElement('battery_soc_pct', s?.battery_soc_pct ?? null), ' %'),
      el('td', {}, s ? `${formatAge(Number(s.age_s) || 0)} ago` : 'no data yet'),
    ];
    return el('tr', { dataset: { device: d.device_id } }, ...cells);
  });
  byId('breakdown-rows').replaceChildren(...rows);
  show(byId('breakdown'), rows.length > 0);
}

export function hideBreakdown() {
  byId('breakdown-rows').replaceChildren();
  show(byId('breakdown'), false);
}

// "roof-1 Running · roof-2 Running": the site's line for the inverters' states.
export function siteStates(site) {
  return (site?.devices ?? [])
    .map((d) => `${d.device_id} ${d.realtime?.running_state_text ?? 'no data'}`)
    .join(' · ');
}
