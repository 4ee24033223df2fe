/** Worker-thread side of `roles.ts`: imports the role's module, runs it, reports. */
import { parentPort, workerData } from 'node:worker_threads';
import type { RoleControl, RoleFn, RoleMessage } from './roles.js';

const port = parentPort!;
const { module, fn, args } = workerData as { module: string; fn: string; args: unknown };
const post = (m: RoleMessage) => port.postMessage(m);

const ctl: RoleControl = {
  ready() {
    return new Promise((resolve) => {
      port.once('message', () => resolve());
      post({ type: 'ready' });
    });
  },
};

try {
  const role = (await import(module))[fn] as RoleFn;
  const value = await role(ctl, args);
  post({ type: 'done', value, rssKb: process.resourceUsage().maxRSS });
} catch (e) {
  post({ type: 'error', message: `${fn}: ${(e as Error).stack ?? e}` });
}
