// Builds the dashboard into --outdir: content-hashed, minified assets, their gzip copies, index.html
// pointing at them, and .assets.json listing every file (what web/embed.mjs compiles in).
// --dev: readable output under fixed names, for `sungrow-server --web-root`.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { outdir: join(here, 'dist'), dev: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dev') args.dev = true;
    else if (argv[i] === '--outdir' && i + 1 < argv.length) args.outdir = argv[++i];
    else throw new Error(`build.mjs: unknown argument ${argv[i]} (use --outdir DIR [--dev])`);
  }
  return args;
}

// The installed packages must be the locked ones: an old node_modules would build a different
// dashboard than the lockfile says, silently.
async function checkInstalled() {
  const lock = JSON.parse(await readFile(join(here, 'package-lock.json'), 'utf8'));
  const problems = [];
  for (const name of ['esbuild', 'uplot']) {
    const locked = lock.packages[`node_modules/${name}`]?.version;
    let installed = null;
    try {
      installed = JSON.parse(await readFile(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch { /* reported below */ }
    if (installed !== locked) problems.push(`${name} ${installed ?? 'missing'} (locked: ${locked})`);
  }
  if (problems.length > 0) {
    throw new Error(`web/node_modules does not match web/package-lock.json: ${problems.join(', ')}. ` +
      'Run scripts/install-deps (it runs npm ci in web/).');
  }
}

const digest = (bytes) => createHash('sha256').update(bytes).digest('hex');

async function main() {
  const { outdir, dev } = parseArgs(process.argv.slice(2));
  await checkInstalled();
  const esbuild = await import('esbuild');
  const assetsDir = join(outdir, 'assets');
  await rm(outdir, { recursive: true, force: true });
  await mkdir(assetsDir, { recursive: true });

  const result = await esbuild.build({
    entryPoints: { app: join(here, 'src/main.js'), style: join(here, 'src/styles.css') },
    bundle: true,
    format: 'esm',
    target: ['chrome109', 'firefox115', 'safari15.6'],
    minify: !dev,
    sourcemap: false,
    legalComments: 'none', // the licences are served as one file, linked from the page
    entryNames: dev ? '[name]' : '[name]-[hash]',
    outdir: assetsDir,
    metafile: true,
    logLevel: 'warning',
  });

  const files = Object.keys(result.metafile.outputs).map((p) => relative(outdir, p));
  const byEntry = (ext) => files.find((f) => f.startsWith('assets/') && f.endsWith(ext));
  const named = { 'app.js': byEntry('.js'), 'style.css': byEntry('.css') };

  // Files copied as they are, under a hashed name.
  const copies = [
    ['icon.svg', join(here, 'src/icon.svg')],
    ['licenses.txt', null],
  ];
  for (const [name, source] of copies) {
    const bytes = source ? await readFile(source) : await licenses();
    const [stem, ext] = name.split('.');
    const file = dev ? `assets/${name}` : `assets/${stem}-${digest(bytes).slice(0, 8).toUpperCase()}.${ext}`;
    await writeFile(join(outdir, file), bytes);
    named[name] = file;
    files.push(file);
  }

  let html = await readFile(join(here, 'src/index.html'), 'utf8');
  html = html.replace(/\{\{([a-z.]+)\}\}/g, (_, name) => {
    if (!named[name]) throw new Error(`index.html names an unknown asset {{${name}}}`);
    return `/${named[name]}`;
  });
  await writeFile(join(outdir, 'index.html'), html);
  files.unshift('index.html');

  const manifest = [];
  for (const file of files) {
    const bytes = await readFile(join(outdir, file));
    const entry = {
      path: file === 'index.html' ? '/' : `/${file}`,
      file,
      hash: digest(bytes).slice(0, 32),
      immutable: file !== 'index.html' && !dev,
      bytes: bytes.length,
      gzip: null,
      gzip_bytes: null,
    };
    if (!dev) {
      const packed = gzipSync(bytes, { level: 9 });
      if (packed.length < bytes.length) {
        await writeFile(join(outdir, `${file}.gz`), packed);
        entry.gzip = `${file}.gz`;
        entry.gzip_bytes = packed.length;
      }
    }
    manifest.push(entry);
  }
  await writeFile(join(outdir, '.assets.json'), JSON.stringify(manifest, null, 1) + '\n');
  const firstLoad = manifest.reduce((sum, e) => sum + (e.gzip_bytes ?? e.bytes), 0);
  const licenceBytes = manifest.filter((e) => e.file.includes('licenses')).reduce((s, e) => s + (e.gzip_bytes ?? e.bytes), 0);
  console.log(`dashboard: ${manifest.length} files in ${outdir}, ${firstLoad - licenceBytes} bytes on first load (as served)`);
}

// The licences of the code bundled into the page: ours and uPlot's, as the packages ship them.
async function licenses() {
  const uplot = await readFile(join(here, 'node_modules/uplot/LICENSE'), 'utf8');
  const version = JSON.parse(await readFile(join(here, 'node_modules/uplot/package.json'), 'utf8')).version;
  return Buffer.from(
    'The sungrow-server dashboard bundles this third-party code:\n\n' +
      `uPlot ${version} (the npm package uplot)\n\n${uplot}`,
  );
}

main().catch((error) => {
  console.error(error.message ?? error);
  process.exit(1);
});
