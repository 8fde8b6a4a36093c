// Runs the node:test suites under test/ (TypeScript, through tsx). Node 20's --test takes no
// globs, so the files are collected here. Arguments narrow the run: `npm test -- test/util`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const roots = process.argv.slice(2).filter((argument) => !argument.startsWith('-'));
const flags = process.argv.slice(2).filter((argument) => argument.startsWith('-'));

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => collect(join(path, name)));
}

const files = (roots.length > 0 ? roots : ['test']).flatMap(collect).map((file) => relative('.', file));
if (files.length === 0) {
  console.error(`no test files under ${roots.join(', ') || 'test'}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
