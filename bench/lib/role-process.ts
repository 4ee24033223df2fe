/** Child-process side of `roles.ts`: receives the role by IPC, imports its module, runs it, reports. */
import type { RoleControl, RoleFn, RoleMessage } from './roles.js';

const send = (m: RoleMessage) =>
  new Promise<void>((resolve) => {
    process.send!(m, undefined, undefined, () => resolve());
  });

const ctl: RoleControl = {
  ready() {
    return new Promise((resolve) => {
      process.once('message', () => resolve());
      void send({ type: 'ready' });
    });
  },
};

process.once('message', async (spec: { module: string; fn: string; args: unknown }) => {
  try {
    const role = (await import(spec.module))[spec.fn] as RoleFn;
    const value = await role(ctl, spec.args);
    await send({ type: 'done', value, rssKb: process.resourceUsage().maxRSS });
  } catch (e) {
    await send({ type: 'error', message: `${spec.fn}: ${(e as Error).stack ?? e}` });
  }
  process.disconnect();
});
