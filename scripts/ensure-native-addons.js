#!/usr/bin/env node
// postinstall: better-sqlite3's native addon must be built for the Node.js that runs the service.
// npm builds addons against the headers it is configured with (on many machines the system Node's,
// `npm config get nodedir`), while the npm scripts run the Node 24 runtime this package brings on
// Linux (the optional `node-linux-*` dependency, first on the scripts' PATH). When the addon does
// not load in this Node, rebuild it against this Node's own headers, which its distribution ships.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function addonLoads() {
  const probe = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { encoding: 'utf8' });
  const stderr = probe.stderr || '';
  const reason = stderr.includes('NODE_MODULE_VERSION')
    ? `built for another Node.js ABI; this one needs NODE_MODULE_VERSION ${process.versions.modules}`
    : (stderr.split('\n').find((line) => line.includes('Error')) ?? stderr).trim();
  return { ok: probe.status === 0, reason };
}

function fail(message) {
  process.stderr.write(`ensure-native-addons: ${message}\n`);
  process.exit(1);
}

const first = addonLoads();
if (first.ok) process.exit(0);

const nodeDir = path.resolve(path.dirname(process.execPath), '..');
if (!fs.existsSync(path.join(nodeDir, 'include', 'node', 'node_version.h'))) {
  fail(`better-sqlite3 does not load in Node ${process.version} (${first.reason}) and no headers were found beside ${process.execPath}`);
}
const nodeGyp = process.env.npm_config_node_gyp;
if (!nodeGyp || !fs.existsSync(nodeGyp)) fail('run through npm (npm ci / npm rebuild): npm_config_node_gyp is not set');

process.stderr.write(`ensure-native-addons: rebuilding better-sqlite3 for Node ${process.version} (${first.reason})\n`);
const build = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--release', `--nodedir=${nodeDir}`], {
  cwd: path.dirname(require.resolve('better-sqlite3/package.json')),
  // npm passes its own nodedir to scripts as npm_config_nodedir, which node-gyp prefers to the flag
  env: { ...process.env, npm_config_nodedir: nodeDir },
  stdio: ['ignore', 'ignore', 'pipe'],
  encoding: 'utf8',
});
if (build.status !== 0) fail(`node-gyp rebuild exited with ${build.status}:\n${(build.stderr || '').split('\n').slice(-30).join('\n')}`);
const after = addonLoads();
if (!after.ok) fail(`better-sqlite3 still does not load after the rebuild: ${after.reason}`);
