/** The built program, run as users run it: bin/toolbench over the esbuild bundle. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { PROJECT_ROOT, fixture } from '../helpers/paths.js';

const BIN = join(PROJECT_ROOT, 'bin', 'toolbench');

function toolbench(args: string[], env: Record<string, string> = {}) {
  const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...inherited } = process.env;
  const result = spawnSync(BIN, args, { encoding: 'utf8', env: { ...inherited, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bin/toolbench', () => {
  before(() => {
    execFileSync(process.execPath, ['esbuild.config.mjs'], { cwd: PROJECT_ROOT }); // test the current sources
  });

  test('prints its version and exits 0', () => {
    const result = toolbench(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('exit codes reach the shell: 0, 2 (bad input), 3 (partial)', () => {
    const queries = fixture('queries', 'edge-queries.json');
    assert.equal(toolbench(['tools', 'functions', '--queries', queries, '--id', '101', '--json']).code, 0);
    assert.equal(toolbench(['tools', 'functions', '--queries', queries, '--id', '999']).code, 2);
    assert.equal(toolbench(['tools', 'functions', '--queries', queries, '--id', '103', '--tools', fixture('toolenv-2023')]).code, 3);
    assert.equal(toolbench(['tools', 'nope']).code, 2);
  });

  test('a closed pipe is not an error', (context) => {
    // Output larger than a pipe's buffer, so that writing goes on after `head` has exited.
    const root = mkdtempSync(join(tmpdir(), 'toolbench-pipe-'));
    context.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'Many'));
    for (let index = 0; index < 2000; index++) {
      writeFileSync(join(root, 'Many', `tool_${index}.json`), JSON.stringify({ tool_name: `Tool ${index}`, api_list: [] }));
    }
    const script = `"${BIN}" tools list --tools "${root}" --json | head -c 100 > /dev/null; exit \${PIPESTATUS[0]}`;
    const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /EPIPE|Error/);
  });

  test('colours messages only when asked and never with NO_COLOR', () => {
    const args = ['tools', 'list', '--tools', fixture('toolenv-bad')];
    assert.doesNotMatch(toolbench(args).stderr, /\u001b\[/);
    assert.match(toolbench(args, { FORCE_COLOR: '1' }).stderr, /\u001b\[33mwarning:/);
    assert.doesNotMatch(toolbench(args, { FORCE_COLOR: '1', NO_COLOR: '1' }).stderr, /\u001b\[/);
    assert.doesNotMatch(toolbench([...args, '--no-color'], { FORCE_COLOR: '1' }).stderr, /\u001b\[/);
  });
});
