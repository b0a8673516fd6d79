#!/usr/bin/env node
// Builds the native addon and the containode helper with node-gyp (npm's install
// step). Offline: when the running node's headers are installed system-wide (as on
// Debian with libnode-dev, or a distribution node), node-gyp is pointed at them
// instead of downloading a headers tarball.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Version of the headers under @dir/include/node, or null. */
function headerVersion(dir) {
  const f = path.join(dir, 'include', 'node', 'node_version.h');
  if (!existsSync(f)) return null;
  const h = readFileSync(f, 'utf8');
  const v = (name) => (new RegExp(`#define ${name} (\\d+)`).exec(h) ?? [])[1];
  return `${v('NODE_MAJOR_VERSION')}.${v('NODE_MINOR_VERSION')}.${v('NODE_PATCH_VERSION')}`;
}

const args = ['rebuild'];
if (!process.env.npm_config_nodedir) {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const mine = process.versions.node;
  const found = [prefix, '/usr', '/usr/local'].find((d) => headerVersion(d) === mine);
  if (found) args.push(`--nodedir=${found}`);
}
const gyp = process.env.npm_config_node_gyp;
const cmd = gyp ? [process.execPath, [gyp, ...args]] : ['node-gyp', args];
const r = spawnSync(cmd[0], cmd[1], { stdio: 'inherit' });
if (r.error) console.error(`build-native: cannot run ${cmd[0]}: ${r.error.message} (run it through npm: npm run build)`);
process.exit(r.status ?? 1);
