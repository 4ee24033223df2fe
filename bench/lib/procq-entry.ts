/**
 * procq as a user's program loads it: the package entry (`import 'procq'` resolves, through package.json's
 * `exports`, to dist/bundle/, which `npm run build` makes), so that the procq cases, process start included, time
 * what users get.
 */
import type * as Procq from '../../src/index.js';

const bundle = (file: string) => new URL(`../../bundle/${file}`, import.meta.url).href;

export const procq = (await import(bundle('index.js'))) as typeof Procq;
