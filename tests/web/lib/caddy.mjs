// Caddy in front of the server, as in production (deploy/vps/Caddyfile): HTTPS with Caddy's own
// local CA in a throwaway directory (never the system trust store), proxying to the server. The
// browser trusts exactly the certificate Caddy serves, by its public key's digest.
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';

import { sleep, tempDir } from './stack.mjs';

const CADDY = '/usr/bin/caddy';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export class Caddy {
  constructor(upstream) {
    this.upstream = upstream;
    this.child = null;
    this.log = '';
  }

  get origin() {
    return `https://localhost:${this.port}`;
  }

  async start() {
    if (!existsSync(CADDY)) throw new Error('caddy not found at /usr/bin/caddy: run scripts/install-deps');
    this.dir = await tempDir('sgcaddy');
    this.port = await freePort();
    const httpPort = await freePort();
    await writeFile(join(this.dir, 'Caddyfile'), [
      '{', '\tadmin off', '\tskip_install_trust', `\thttp_port ${httpPort}`, `\thttps_port ${this.port}`,
      '\tauto_https disable_redirects', '}',
      `https://localhost:${this.port} {`, '\ttls internal', `\treverse_proxy ${this.upstream}`, '}', '',
    ].join('\n'));
    this.child = spawn(CADDY, ['run', '--config', join(this.dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
      env: { PATH: process.env.PATH, XDG_DATA_HOME: join(this.dir, 'data'), XDG_CONFIG_HOME: join(this.dir, 'config'), HOME: this.dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk) => {
      this.log += chunk.toString();
    };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    const rootPath = join(this.dir, 'data/caddy/pki/authorities/local/root.crt');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && this.child.exitCode === null) {
      if (existsSync(rootPath)) {
        try {
          this.spki = await this.leafSpki(await readFile(rootPath));
          return this;
        } catch {
          // Not serving yet.
        }
      }
      await sleep(100);
    }
    throw new Error(`caddy did not come up:\n${this.log}`);
  }

  // The SHA-256 of the served certificate's public key (what Chromium's SPKI allow-list takes),
  // after verifying that certificate against Caddy's root.
  leafSpki(root) {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: this.port, servername: 'localhost', ca: root }, () => {
        const der = socket.getPeerCertificate().raw;
        socket.end();
        const key = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
        resolve(createHash('sha256').update(key).digest('base64'));
      });
      socket.on('error', reject);
    });
  }

  browserArgs() {
    return [`--ignore-certificate-errors-spki-list=${this.spki}`];
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.on('exit', resolve));
      this.child.kill('SIGKILL');
      await exited;
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
