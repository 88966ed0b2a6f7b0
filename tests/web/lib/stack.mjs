// A real sungrow-server for the browser tests: started as a child process on a free loopback port
// with its own data directory and tokens, loaded with `sungrow-sim history` through the normal
// ingest, stopped or killed and started again on the same port.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const binDir = () => {
  const dir = process.env.SUNGROW_BIN_DIR;
  if (!dir) throw new Error('SUNGROW_BIN_DIR must name the folder of sungrow-server and sungrow-sim');
  return dir;
};

export async function tempDir(prefix) {
  return mkdtemp(join(tmpdir(), `${prefix}-`));
}

export class ServerStack {
  // devices: { id: zone|null }; options: extra server flags, environment.
  constructor({ devices, flags = [], env = {} }) {
    this.devices = devices;
    this.flags = flags;
    this.env = env;
    this.child = null;
    this.port = 0;
    this.logs = '';
    this.exited = null;
  }

  get server() {
    return join(binDir(), 'sungrow-server');
  }

  async init() {
    this.dir = await tempDir('sgweb');
    this.deviceTokensFile = join(this.dir, 'device-tokens');
    this.viewerTokensFile = join(this.dir, 'viewer-tokens');
    // One ingest token per device, as the edge would have.
    this.deviceTokens = {};
    const lines = [];
    for (const id of Object.keys(this.devices)) {
      const { stdout } = await run(this.server, ['token', 'new', id]);
      const line = stdout.trim();
      this.deviceTokens[id] = line.slice(0, line.indexOf(':'));
      lines.push(line);
    }
    await writeFile(this.deviceTokensFile, lines.join('\n') + '\n', { mode: 0o600 });
    this.viewerToken = await this.newViewer(Object.keys(this.devices));
    return this;
  }

  // A new viewer token for `devices` (printed once by the server, alone on its line).
  async newViewer(devices) {
    const { stdout } = await run(this.server, ['viewer', 'new', '--file', this.viewerTokensFile, ...devices]);
    const token = stdout.trim().split('\n').pop().trim();
    if (!/^[A-Za-z0-9_.~-]{20,}$/.test(token)) throw new Error('viewer new printed no token');
    return token;
  }

  zonesFlag() {
    const zones = Object.entries(this.devices).filter(([, zone]) => zone).map(([id, zone]) => `${id}=${zone}`);
    return zones.length ? ['--device-zones', zones.join(',')] : [];
  }

  async start() {
    const args = [
      '--listen-addr', '127.0.0.1', '--port', String(this.port), '--data-dir', join(this.dir, 'data'),
      '--device-tokens-file', this.deviceTokensFile, '--viewer-tokens-file', this.viewerTokensFile,
      ...this.zonesFlag(), ...this.flags,
    ];
    // Only this start's output: after a restart the previous start's line is still in the log.
    const from = this.logs.length;
    const child = spawn(this.server, args, { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const onData = (chunk) => {
      this.logs += chunk.toString();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const match = /sungrow-server listening on [^\s]+:(\d+)/.exec(this.logs.slice(from));
      if (match && child.exitCode === null) {
        this.port = Number(match[1]);
        return this;
      }
      if (child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`sungrow-server did not start:\n${this.logs}`);
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  // SIGKILL: the page sees its connections drop, as in a crash.
  async kill() {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = null;
    this.logs += '\n';
  }

  async stop() {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
    this.child = null;
  }

  async cleanup() {
    await this.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  // `sungrow-sim history` into this server: the edge's own ingest client, the device's token.
  async loadHistory(device, { days, step, end, zone }) {
    const args = [
      'history', '--days', String(days), '--step', String(step), '--device-id', device,
      '--ingest-url', `${this.origin}/v1/ingest`, '--token', this.deviceTokens[device], '--tz', zone,
    ];
    if (end) args.push('--end', end);
    await run(join(binDir(), 'sungrow-sim'), args, { maxBuffer: 8 << 20 });
  }

  // POST one sample to /v1/ingest as the device's edge would; returns the HTTP status.
  async ingest(device, sample, token = this.deviceTokens[device]) {
    const response = await fetch(`${this.origin}/v1/ingest`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ samples: [sample] }),
    });
    await response.arrayBuffer();
    return response.status;
  }

  // An API GET with the viewer's bearer token (the tests read the API themselves).
  async api(path, token = this.viewerToken) {
    const response = await fetch(`${this.origin}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    const text = await response.text();
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  }
}

// A sample as the edge sends it: the newest realtime sample's fields with a new time and seq.
// The sample after `previous`: now (whole seconds), but always at least a second after it, so two
// samples made within one second are two samples, not a duplicate the server ignores.
export function nextSample(previous, { ts = new Date(), seq, pv_power_w }) {
  const sample = { ...previous };
  delete sample.age_s;
  delete sample.source;
  const at = Math.max(Math.floor(ts.getTime() / 1000) * 1000, Date.parse(previous.ts) + 1000);
  sample.ts = new Date(at).toISOString();
  sample.seq = seq;
  if (pv_power_w !== undefined) sample.pv_power_w = pv_power_w;
  return sample;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function readLog(path) {
  return readFile(path, 'utf8');
}
