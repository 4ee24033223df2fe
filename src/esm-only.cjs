// `require('procq')` lands here (package.json `exports`, condition `require`): procq is an ES module only.
throw new Error(
  'procq is ESM-only: use `import { Queue } from \'procq\'` in an ES module (a .mjs/.mts file, or "type": ' +
    '"module" in package.json), or `const { Queue } = await import(\'procq\')` from CommonJS.',
);
