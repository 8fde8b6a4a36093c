// `npm run build:sea`: one executable file (Node's single-executable applications) holding Node
// and the bundled program: dist/sea/toolbench (toolbench.exe on Windows).
// Node 20's SEA runs one CommonJS script, so the bundle is built again as CommonJS.
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { inject } from 'postject';
import { COMMON } from '../esbuild.config.mjs';

const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const outDir = join('dist', 'sea');
const script = join(outDir, 'toolbench.cjs');
const blob = join(outDir, 'toolbench.blob');
const executable = join(outDir, process.platform === 'win32' ? 'toolbench.exe' : 'toolbench');

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
// the executable's program is not a file on disk, so there is no module URL (and no worker module
// to start beside it: work meant for worker threads runs on the main thread)
await build({ ...COMMON, format: 'cjs', outfile: script, sourcemap: false, define: { 'import.meta.url': 'undefined' } });

const config = join(outDir, 'sea-config.json');
writeFileSync(config, JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true }));
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });

copyFileSync(process.execPath, executable);
chmodSync(executable, 0o755);
if (process.platform === 'darwin') execFileSync('codesign', ['--remove-signature', executable]);
await inject(executable, 'NODE_SEA_BLOB', readFileSync(blob), {
  sentinelFuse: SENTINEL_FUSE,
  ...(process.platform === 'darwin' ? { machoSegmentName: 'NODE_SEA' } : {}),
});
if (process.platform === 'darwin') execFileSync('codesign', ['--sign', '-', executable]);

const version = execFileSync(executable, ['--version']).toString().trim();
console.log(`${executable}: toolbench ${version} (Node ${process.versions.node}), ${(readFileSync(executable).length / 2 ** 20).toFixed(1)} MiB`);
