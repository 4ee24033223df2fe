/**
 * procq as a user's program loads it: the package entry (`import 'procq'` resolves, through package.json's
 * `exports`, to dist/bundle/, which `npm run build` makes), so that the procq cases, process start included, time
 * what users get. `forkserverReady` comes from the same build (one module instance with the entry's).
 */
import type * as Procq from '../../src/index.js';
import type * as Forkserver from '../../src/process/popen-forkserver.js';

const bundle = (file: string) => new URL(`../../bundle/${file}`, import.meta.url).href;

export const procq = (await import(bundle('index.js'))) as typeof Procq;
export const { forkserverReady } = (await import(bundle('popen-forkserver.js'))) as typeof Forkserver;
