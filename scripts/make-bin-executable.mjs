#!/usr/bin/env node
// After `tsc`: the `procq` bin (dist/src/cli/main.js, which keeps its `#!/usr/bin/env node` line) gets its
// execute bits, so `npx procq` and `./dist/src/cli/main.js` run it in a checkout (npm sets them on install).
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const bin of Object.values(pkg.bin)) {
  const file = join(root, bin);
  if (!readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n')) {
    console.error(`${bin} does not start with '#!/usr/bin/env node'`);
    process.exit(1);
  }
  chmodSync(file, 0o755);
}
