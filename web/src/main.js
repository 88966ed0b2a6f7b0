// The dashboard's entry: takes a #token=… link's token out of the address bar first, signs in,
// then runs the Now, Today and History panels for the chosen device and time zone.
import * as api from './api.js';
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

const state = { me: null, device: null, zone: null, stopLive: null, refreshTimer: null };
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

// The zone for a device: the person's choice, else the server's default for the device, else
// the browser's own.
function zoneFor(device) {
  const chosen = remembered(ZONE_KEY);
  if (chosen && isValidZone(chosen)) return chosen;
  const configured = state.me.devices.find((d) => d.device_id === device)?.tz;
  if (configured && isValidZone(configured)) return configured;
  return browserZone();
}

function fillPickers() {
  const devices = state.me.devices.map((d) => d.device_id);
  const deviceSelect = byId('device');
  deviceSelect.replaceChildren(...devices.map((id) => el('option', { value: id }, id)));
  deviceSelect.value = state.device;
  show(byId('device-field'), devices.length > 1);
  const zoneSelect = byId('zone');
  const zones = allZones([state.zone, browserZone(), ...state.me.devices.map((d) => d.tz).filter(Boolean)]);
  zoneSelect.replaceChildren(...zones.map((z) => el('option', { value: z }, z.replaceAll('_', ' '))));
  zoneSelect.value = state.zone;
}

function run() {
  stopRunning();
  document.documentElement.dataset.device = state.device;
  document.documentElement.dataset.zone = state.zone;
  now.reset();
  now.setZone(state.zone);
  now.setLimits(state.me.stale_after_s ?? 30, state.me.offline_after_s ?? 300);
  todayPanel.clear();
  const loadToday = () => todayPanel.load(state.device, state.zone).catch(authLost);
  state.stopLive = startLive(state.device, {
    onSample: (sample, receivedAt) => now.update(sample, receivedAt),
    onTransport: (kind) => now.setTransport(kind),
    onNoData: () => now.showNoData(),
    onAuthLost: authLost,
  });
  loadToday();
  history.setContext(state.device, state.zone);
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
  const devices = state.me.devices.map((d) => d.device_id);
  if (devices.length === 0) {
    showSignIn('This token gives access to no inverter.');
    return;
  }
  const preferred = remembered(DEVICE_KEY);
  state.device = devices.includes(preferred) ? preferred : devices[0];
  state.zone = zoneFor(state.device);
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
    state.device = event.target.value;
    remember(DEVICE_KEY, state.device);
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
