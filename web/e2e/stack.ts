// Starts what the end-to-end suite and the benchmarks need: builds the dashboard, starts a
// real foreman-server on a free port with a temporary data directory, and serves the dashboard
// (from the server itself when its binary embeds this very build, otherwise through `vite
// preview` forwarding /api and /ws to the server). `stop()` ends the processes and removes the
// data.
//
// The server binary is, in order: FOREMAN_SERVER_BIN; `<target dir>/debug/foreman-server` when
// it exists (CI and `cargo xtask ci` have just built it, so it is not built twice); otherwise
// `cargo build -p foreman-server` builds it. FOREMAN_E2E_BUILD_SERVER=1 always rebuilds it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface Stack {
  ui: string;
  api: string;
  token: string;
  dataDir: string;
  embedded: boolean;
  stop(): Promise<void>;
}

const web = resolve(import.meta.dirname, '..');
const root = resolve(web, '..');

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[], cwd: string) {
  // Vitest sets NODE_ENV=test, which would give a development build of the app.
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with status ${r.status}`);
}

async function waitFor(url: string, what: string, child: ChildProcess, ms = 60_000): Promise<Response> {
  const start = Date.now();
  let last = '';
  while (Date.now() - start < ms) {
    if (child.exitCode !== null) throw new Error(`${what} exited with status ${child.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return r;
      last = `status ${r.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} did not answer ${url} within ${ms} ms (${last})`);
}

function start(children: ChildProcess[], cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = process.env.FOREMAN_E2E_VERBOSE ? (d: Buffer) => process.stderr.write(d) : () => {};
  child.stdout?.on('data', log);
  child.stderr?.on('data', log);
  children.push(child);
  return child;
}

/**
 * The foreman-server binary to test: FOREMAN_SERVER_BIN, else the one in cargo's target
 * directory, built first only when it is missing (or FOREMAN_E2E_BUILD_SERVER is set).
 */
function serverBinary(): string {
  if (process.env.FOREMAN_SERVER_BIN) return resolve(process.env.FOREMAN_SERVER_BIN);
  const target = process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target');
  const bin = join(target, 'debug/foreman-server');
  if (existsSync(bin) && !process.env.FOREMAN_E2E_BUILD_SERVER) {
    const built = statSync(bin).mtime.toISOString();
    console.log(`foreman-e2e: using ${bin} (built ${built}; FOREMAN_E2E_BUILD_SERVER=1 rebuilds it)`);
    return bin;
  }
  // Compiling after the web build lets the server embed the fresh dist/.
  run('cargo', ['build', '--quiet', '-p', 'foreman-server'], root);
  return bin;
}

export interface StackOptions {
  /** Build the dashboard first (default true; a second stack in the same run can skip it). */
  build?: boolean;
  /**
   * Run the server with `--demo`: a sample repository and the scripted provider, so the demo
   * ticket really goes through the pipeline (checkpoints, transcripts, run progress).
   */
  demo?: boolean;
  /** Extra environment for the server (`FOREMAN_<SECTION>_<KEY>` overrides). */
  env?: Record<string, string>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const children: ChildProcess[] = [];
  if (!existsSync('/usr/bin/chromium') && !process.env.FOREMAN_E2E_CHROMIUM) {
    throw new Error('Chromium is missing: apt-get install -y chromium (or set FOREMAN_E2E_CHROMIUM)');
  }
  if ((opts.build ?? true) && !process.env.FOREMAN_E2E_SKIP_BUILD) {
    run('npm', ['run', 'build'], web);
  }
  const bin = serverBinary();
  if (!existsSync(bin)) throw new Error(`foreman-server binary not found at ${bin}`);

  const dataDir = await mkdtemp(join(tmpdir(), 'foreman-e2e-'));
  const stop = async () => {
    for (const c of [...children].reverse()) {
      if (c.exitCode === null) c.kill('SIGTERM');
    }
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((done) => {
            if (c.exitCode !== null) return done();
            const t = setTimeout(() => {
              c.kill('SIGKILL');
              done();
            }, 5000);
            c.once('exit', () => {
              clearTimeout(t);
              done();
            });
          }),
      ),
    );
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const apiPort = await freePort();
    const server = start(
      children,
      bin,
      ['--host', '127.0.0.1', '--port', String(apiPort), '--data-dir', dataDir, '--log-format', 'json', ...(opts.demo ? ['--demo'] : [])],
      root,
      { RUST_LOG: process.env.RUST_LOG ?? 'warn', ...opts.env },
    );
    const api = `http://127.0.0.1:${apiPort}`;
    await waitFor(`${api}/api/health`, 'foreman-server', server);
    const token = (await readFile(join(dataDir, 'dashboard_token'), 'utf8')).trim();

    // Use the server's own dashboard when it embeds this build: its index.html names the
    // same content-hashed assets as web/dist/index.html. A binary built before the last
    // `npm run build` gets `vite preview` in front of it instead, so the suite always tests the
    // current code (FOREMAN_E2E_PREVIEW=1 forces the preview).
    const served = await fetch(`${api}/`).then((r) => r.text(), () => '');
    const built = await readFile(join(web, 'dist/index.html'), 'utf8').catch(() => '');
    let ui = api;
    const embedded = !process.env.FOREMAN_E2E_PREVIEW && built !== '' && served === built;
    if (!embedded) {
      if (!process.env.FOREMAN_E2E_PREVIEW && served.includes('content="foreman-dashboard"')) {
        console.warn(`foreman-e2e: ${bin} embeds an older dashboard build; serving web/dist through vite preview`);
      }
      const uiPort = await freePort();
      const vite = start(
        children,
        join(web, 'node_modules/.bin/vite'),
        ['preview', '--host', '127.0.0.1', '--port', String(uiPort), '--strictPort'],
        web,
        { FOREMAN_URL: api },
      );
      ui = `http://127.0.0.1:${uiPort}`;
      await waitFor(`${ui}/`, 'vite preview', vite);
    }
    console.log(`foreman-e2e: dashboard served by ${embedded ? 'foreman-server (embedded build)' : 'vite preview'} at ${ui}`);
    return { ui, api, token, dataDir, embedded, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
