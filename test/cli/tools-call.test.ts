import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runToolbench } from '../helpers/cli.js';
import { fixture } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-call-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const LOCAL_TOOLS = fixture('toolenv-local');

function cacheWithLoveQuote(): string {
  const root = join(scratch, 'cache');
  mkdirSync(join(root, 'Social/quote_garden_for_Social'), { recursive: true });
  writeFileSync(join(root, 'Social/quote_garden_for_Social/love_quote.json'), JSON.stringify({ "{'n': 1.0}": { error: '', response: 'x'.repeat(50) } }, null, 4));
  return root;
}

describe('toolbench tools call', () => {
  test('answers from the cache, keyed by str() of the arguments, shaped to --max-observation-length', async () => {
    const cache = cacheWithLoveQuote();
    const result = await runToolbench(['tools', 'call', 'Social/quote_garden/love_quote', '--cache', cache, '--args', '{"n": 1.0}', '--max-observation-length', '20', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const call = JSON.parse(result.stdout);
    assert.equal(call.observation, `${'{"error": "", "respo'}...`);
    assert.deepEqual([call.status, call.source], [0, 'cache']);
    assert.equal(call.config.origins.maxObservationLength, 'flag');
  });

  test('a function name is resolved to its category through --tools', async () => {
    const result = await runToolbench(['tools', 'call', 'get_hello_world_for_hello_world', '--env', 'local', '--tools', LOCAL_TOOLS, '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).api, { category: 'Customized', tool: 'hello_world', api: 'get_hello_world' });
  });

  test('a local call recorded with --record replays bit for bit with --env replay', async () => {
    const recording = join(scratch, 'recording');
    const live = await runToolbench(['tools', 'call', 'Customized/hello_world/get_hello_world', '--env', 'local', '--tools', LOCAL_TOOLS, '--record', recording]);
    assert.equal(live.code, 0, live.stderr);
    const replayed = await runToolbench(['tools', 'call', 'Customized/hello_world/get_hello_world', '--env', 'replay', '--replay-from', recording, '--json']);
    const call = JSON.parse(replayed.stdout);
    assert.equal(`${call.observation}\n`, live.stdout);
    assert.equal(call.source, 'recorded');
  });

  test('settings: a flag beats the variable, the variable beats the config file', async () => {
    const config = join(scratch, 'settings.yml');
    writeFileSync(config, 'env: replay\nmax_observation_length: 7\nreplay_from: [recording]\n');
    const fromFile = await runToolbench(['tools', 'call', 'A/b/c', '--config', config, '--json']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const described = JSON.parse(fromFile.stdout).config;
    assert.deepEqual([described.kind, described.maxObservationLength, described.replayFrom], ['replay', 7, [join(scratch, 'recording')]]);
    const fromEnv = await runToolbench(['tools', 'call', 'A/b/c', '--config', config, '--json'], { TOOLBENCH_MAX_OBSERVATION_LENGTH: '9' });
    assert.equal(JSON.parse(fromEnv.stdout).config.maxObservationLength, 9);
    const fromFlag = await runToolbench(['tools', 'call', 'A/b/c', '--config', config, '--max-observation-length', '11', '--json'], { TOOLBENCH_MAX_OBSERVATION_LENGTH: '9' });
    assert.equal(JSON.parse(fromFlag.stdout).config.maxObservationLength, 11);
  });

  test('keys never reach the output', async () => {
    const result = await runToolbench(['tools', 'call', 'A/b/c', '--env', 'replay', '--replay-from', scratch, '--json'], { OPENAI_API_KEY: 'sk-secret-123', TOOLBENCH_KEY: 'tb-secret-456' });
    assert.doesNotMatch(result.stdout + result.stderr, /secret/);
    assert.equal(JSON.parse(result.stdout).config.keys.OPENAI_API_KEY, true);
  });

  test('bad usage is exit 2: an unknown environment, a malformed name, a function name without --tools, service without a URL', async () => {
    assert.equal((await runToolbench(['tools', 'call', 'A/b/c', '--env', 'nowhere'])).code, 2);
    assert.equal((await runToolbench(['tools', 'call', 'A/b'])).code, 2);
    assert.equal((await runToolbench(['tools', 'call', 'love_quote_for_quote_garden'])).code, 2);
    assert.equal((await runToolbench(['tools', 'call', 'A/b/c', '--env', 'service'])).code, 2);
    assert.equal((await runToolbench(['tools', 'call', 'A/b/c', '--env', 'rapidapi', '--tools', LOCAL_TOOLS])).code, 2);
  });
});
