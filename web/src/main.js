// The dashboard's entry: takes a #token=… link's token out of the address bar first, signs in,
// then runs the Now, Today and History panels for the chosen device or site and time zone. A
// credential that holds a whole site (several inverters) sees the site by default, with each
// inverter's share under Now; each inverter stays one pick away.
import * as api from './api.js';
import { hideBreakdown, showBreakdown, siteStates } from './breakdown.js';
import { byId, el, show } from './dom.js';
import { HistoryPanel } from './history.js';
import { startLive } from './live.js';
import { NowPanel } from './now.js';
import { signIn, signOut, takeTokenFromAddress } from './session.js';
import { TodayPanel } from './today.js';
import { allZones, browserZone, isValidZone } from './zones.js';

// Before anything else: the token must not stay in the address bar or the history.
const linkToken = takeTokenFromAddress();

const REFRESH_MS = 60_000;
const ZONE_KEY = 'sungrow.zone';
const DEVICE_KEY = 'sungrow.device';

const state = { me: null, target: null, zone: null, stopLive: null, refreshTimer: null };

// A picker value: a device's id as it is, a site's behind "site/" ('/' never occurs in an id).
const SITE_PREFIX = 'site/';
const valueOf = (target) => (target.kind === 'site' ? SITE_PREFIX + target.id : target.id);

// Sites first (the household as a whole), then each device.
function targets() {
  const sites = (state.me.sites ?? []).map((s) => ({ kind: 'site', id: s.site_id, devices: s.devices }));
  const devices = state.me.devices.map((d) => ({ kind: 'device', id: d.device_id }));
  return [...sites, ...devices];
}

function targetOf(value) {
  return targets().find((t) => valueOf(t) === value) ?? null;
}
let now;
let todayPanel;
let history;

function remembered(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

function showOnly(part) {
  show(byId('loading'), part === 'loading');
  show(byId('signin'), part === 'signin');
  show(byId('dashboard'), part === 'dashboard');
  show(byId('controls'), part === 'dashboard');
}

function stopRunning() {
  state.stopLive?.();
  state.stopLive = null;
  clearInterval(state.refreshTimer);
  state.refreshTimer = null;
}

function showSignIn(message = '') {
  stopRunning();
  state.me = null;
  showOnly('signin');
  byId('signin-error').textContent = message;
  byId('token').value = '';
}

const authLost = () => showSignIn('Your session has ended. Sign in again.');

// The zone for a device or site: the person's choice, else the server's default for the device
// (a site's first device), else the browser's own.
function zoneFor(target) {
  const chosen = remembered(ZONE_KEY);
  if (chosen && isValidZone(chosen)) return chosen;
  const device = target.kind === 'site' ? target.devices[0]?.device_id : target.id;
  const configured = state.me.devices.find((d) => d.device_id === device)?.tz;
  if (configured && isValidZone(configured)) return configured;
  return browserZone();
}

function fillPickers() {
  const all = targets();
  const deviceSelect = byId('device');
  const label = (t) => (t.kind === 'site' ? `${t.id} (all ${t.devices.length} inverters)` : t.id);
  deviceSelect.replaceChildren(...all.map((t) => el('option', { value: valueOf(t) }, label(t))));
  deviceSelect.value = valueOf(state.target);
  show(byId('device-field'), all.length > 1);
  const zoneSelect = byId('zone');
  const zones = allZones([state.zone, browserZone(), ...state.me.devices.map((d) => d.tz).filter(Boolean)]);
  zoneSelect.replaceChildren(...zones.map((z) => el('option', { value: z }, z.replaceAll('_', ' '))));
  zoneSelect.value = state.zone;
}

function run() {
  stopRunning();
  const { target } = state;
  const root = document.documentElement.dataset;
  if (target.kind === 'site') {
    root.site = target.id;
    delete root.device;
  } else {
    root.device = target.id;
    delete root.site;
  }
  root.zone = state.zone;
  now.reset();
  hideBreakdown();
  now.setZone(state.zone);
  now.setLimits(state.me.stale_after_s ?? 30, state.me.offline_after_s ?? 300);
  todayPanel.clear();
  const loadToday = () => todayPanel.load(target, state.zone).catch(authLost);
  state.stopLive = startLive(target, {
    onSample: (sample, receivedAt) => {
      if (target.kind !== 'site') {
        now.update(sample, receivedAt);
        return;
      }
      now.update({ ...sample, running_state_text: siteStates(sample) }, receivedAt);
      showBreakdown(sample);
    },
    onTransport: (kind) => now.setTransport(kind),
    onNoData: () => now.showNoData(),
    onAuthLost: authLost,
  });
  loadToday();
  history.setContext(target, state.zone);
  state.refreshTimer = setInterval(() => {
    loadToday();
    history.refreshIfCurrent();
  }, REFRESH_MS);
}

async function start() {
  try {
    state.me = await api.me();
  } catch (error) {
    if (error.status === 401) showSignIn();
    else showSignIn(`The server did not answer as expected (${error.message}). Reload to try again.`);
    return;
  }
  const all = targets();
  if (state.me.devices.length === 0) {
    showSignIn('This token gives access to no inverter.');
    return;
  }
  state.target = targetOf(remembered(DEVICE_KEY)) ?? all[0];
  state.zone = zoneFor(state.target);
  fillPickers();
  showOnly('dashboard');
  run();
}

function wire() {
  byId('signin-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = byId('token');
    const token = input.value.trim();
    if (!token) return;
    const button = event.submitter ?? byId('signin-form').querySelector('button');
    button.disabled = true;
    const problem = await signIn(token);
    button.disabled = false;
    input.value = '';
    if (problem) {
      byId('signin-error').textContent = problem;
      input.focus();
      return;
    }
    byId('signin-error').textContent = '';
    await start();
  });
  byId('sign-out').addEventListener('click', async () => {
    stopRunning();
    await signOut();
    showSignIn();
  });
  byId('device').addEventListener('change', (event) => {
    const target = targetOf(event.target.value);
    if (!target) return;
    state.target = target;
    remember(DEVICE_KEY, event.target.value);
    run();
  });
  byId('zone').addEventListener('change', (event) => {
    state.zone = event.target.value;
    remember(ZONE_KEY, state.zone);
    run();
  });
}

// Signs in with a link's token; false (and the sign-in form says why) when it was refused.
async function signInWithLink(token) {
  const problem = await signIn(token);
  if (problem) showSignIn(problem);
  return !problem;
}

async function boot() {
  now = new NowPanel();
  todayPanel = new TodayPanel();
  history = new HistoryPanel({ onAuthLost: authLost });
  wire();
  // A link opened in a tab that already shows the page changes only the fragment: no reload.
  window.addEventListener('hashchange', async () => {
    const token = takeTokenFromAddress();
    if (token && (await signInWithLink(token))) {
      stopRunning();
      await start();
    }
  });
  if (linkToken && !(await signInWithLink(linkToken))) return;
  await start();
}

boot();
