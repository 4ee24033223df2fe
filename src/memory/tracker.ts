/**
 * The resource tracker (Python's `multiprocessing.resource_tracker`): every shared-memory segment a tree of procq
 * processes creates is removed when the last process of the tree has ended, however it ended (normal exit, an
 * uncaught exception, SIGINT, SIGTERM, SIGKILL of every process of the tree at once).
 *
 * How:
 * - The first process of a tree that creates a segment starts the tracker: a tiny `/bin/sh` process in a session
 *   of its own (so the terminal's Ctrl-C and a kill of the tree's process group do not reach it; it also ignores
 *   SIGINT, SIGTERM and SIGHUP), whose stdin is the read end of a pipe.
 * - The write end stays open, inheritable, in that process: every process it starts (procq children, and any
 *   other program it execs) inherits it, and so on down the tree. Nobody ever writes to it.
 * - When the last holder of the write end ends, the tracker reads end-of-file and removes every segment whose name
 *   carries the tree's token (`procq-<pid>-<start>-<pidns>-<token>-<random>`, shm-segment.ts), then exits.
 * - Processes of the tree find the tracker through `PROCQ_TRACKER=<fd>:<pipe inode>:<token>` in their
 *   environment, checked against the fd they actually hold (a stale variable, or a fd closed by an intermediate
 *   program, starts a tracker of their own instead).
 *
 * What is held: one fd per process; the tracker costs a shell process (about 1 MB) per tree. A descendant that
 * outlives the tree's procq processes (a daemon started with `child_process`) delays the removal until it ends:
 * it may still hold a segment's name (conservative, as Python's tracker). A creator still removes its own segments
 * at its normal exit (the addon's atexit handler); the tracker is for every other way a tree ends.
 */
import { closeSync, existsSync, fstatSync, readlinkSync } from 'node:fs';
import { childProcess, randomHex } from '../builtins.js';

import { loadNative } from '../native/index.js';

const ENV = 'PROCQ_TRACKER';
const SHELL = '/bin/sh';

let token: string | undefined;

/** `pipe:[inode]` of fd `fd` in this process, or undefined. */
function pipeOf(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

/** The tracker of this process's tree, if this process holds its pipe (inherited, or started here). */
function inherited(): string | undefined {
  const m = /^(\d+):(\d+):([0-9a-f]{16})$/.exec(process.env[ENV] ?? '');
  if (m === null) return undefined;
  return pipeOf(Number(m[1])) === `pipe:[${m[2]}]` ? m[3] : undefined;
}

/**
 * The token of this tree's tracker, starting the tracker on first use; `'0'` when none can run here (no native
 * addon, no `/bin/sh`): segments are then removed at normal exit and by the sweep only.
 */
export function trackerToken(): string {
  if (token !== undefined) return token;
  token = inherited() ?? start() ?? '0';
  return token;
}

function start(): string | undefined {
  const native = loadNative();
  if (native === null || !existsSync(SHELL)) return undefined;
  let fds: [number, number];
  try {
    fds = native.trackerPipe();
  } catch {
    return undefined;
  }
  const [readFd, writeFd] = fds;
  const tree = randomHex(8);
  // Reads its stdin to end-of-file (every holder of the write end has ended), then removes the tree's segments.
  const script =
    "trap '' INT TERM HUP PIPE; while read -r _; do :; done; " +
    `for f in /dev/shm/procq-*-${tree}-*; do [ -e "$f" ] && rm -f -- "$f"; done; exit 0`;
  try {
    const child = childProcess().spawn(SHELL, ['-c', script], {
      argv0: 'procq-tracker', // how it shows in ps (and how tests that count child processes tell it apart)
      detached: true, // a session of its own: no terminal signals, not in the tree's process group
      stdio: [readFd, 'ignore', 'ignore'],
    });
    child.on('error', () => {});
    child.unref();
    native.setInheritable(writeFd, true);
  } catch {
    closeSync(writeFd);
    return undefined;
  } finally {
    closeSync(readFd);
  }
  process.env[ENV] = `${writeFd}:${fstatSync(writeFd).ino}:${tree}`;
  return tree;
}
