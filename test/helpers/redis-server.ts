// A real, throwaway redis-server for the Redis tests: a free port on 127.0.0.1, no persistence (`--save ''
// --appendonly no`), its own temporary directory, stopped (and the directory removed) by `stop()`.
//
// When `redis-server` is not on PATH, the Redis tests are skipped with a message that says how to install it, so
// that `npm test` works on a fresh machine; under CI (CI set, or PROCQ_REQUIRE_REDIS=1) they fail instead, since
// .ci/run installs it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Pids of the servers this process started: children that suites checking for leftover children must ignore. */
export const serverPids = new Set<number>();

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

function onPath(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Why the Redis tests are skipped (PROCQ_SKIP_REDIS=1 and no redis-server), or undefined: they run. */
export function redisSkipReason(): string | undefined {
  if (onPath('redis-server')) return undefined;
  if (process.env.PROCQ_SKIP_REDIS === '1') return 'PROCQ_SKIP_REDIS=1 and redis-server is not on PATH';
  if (process.env.CI || process.env.PROCQ_REQUIRE_REDIS === '1') return undefined; // startRedis() then fails
  return 'redis-server is not on PATH: install it (`apt-get install -y redis-server`) to run the Redis tests';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.setTimeout(500);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

async function startOn(port: number, dir: string, bind: string[]): Promise<ChildProcess | undefined> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      ['127.0.0.1', ...bind].join(' '),
      '--protected-mode',
      bind.length > 0 ? 'no' : 'yes',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      if (/Address already in use/i.test(out)) return undefined; // lost the port to someone else: try another
      throw new Error(`redis-server exited with code ${child.exitCode}:\n${out}`);
    }
    if (await ping(port)) return child;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer PING on port ${port} within 10 s:\n${out}`);
}

/** Starts a server on 127.0.0.1 (and on the addresses in `bind`, which must exist: e.g. veth ends). */
export async function startRedis(bind: string[] = []): Promise<RedisServer> {
  if (!onPath('redis-server')) {
    throw new Error(
      'redis-server is not on PATH: the Redis tests need a real server. Install it (Debian/Ubuntu: ' +
        '`apt-get install -y redis-server`; CI does), or set PROCQ_SKIP_REDIS=1 to skip these tests.',
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'procq-redis-'));
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const child = await startOn(port, dir, bind);
      if (child === undefined) continue;
      serverPids.add(child.pid!);
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        async stop() {
          if (child.exitCode === null) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
            await once(child, 'exit');
            clearTimeout(timer);
          }
          serverPids.delete(child.pid!);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    throw new Error('could not find a free port for redis-server');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
