/** procq cases: placeholder until `src/index.ts` exports `Queue` and `Process`. */
import type { CaseResult } from '../lib/result.js';
import type { CaseSpec } from '../lib/spec.js';

export async function procqCase(spec: CaseSpec): Promise<CaseResult> {
  throw new Error(`procq is not built yet (${spec.impl})`);
}
