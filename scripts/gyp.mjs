/**
 * Finding node-gyp and the Node headers without the network, shared by the scripts that compile the addon
 * (build-native.mjs: a source build into build/Release; prepack.mjs: the prebuilt binary in prebuilds/).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/** node-gyp's entry script: npm's bundled one (or the one npm points at), else a local one; undefined if none. */
export function findNodeGyp(root) {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(
      join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    );
  }
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  );
  candidates.push(join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // no local node-gyp
  }
  return candidates.find((c) => existsSync(c));
}

/**
 * The Node headers: `npm_config_nodedir` when set, else the ones installed next to this node binary
 * (<prefix>/include/node); undefined: node-gyp's own cache (which downloads them when empty).
 */
export function findNodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return undefined;
}
