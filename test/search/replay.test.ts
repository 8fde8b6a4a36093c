/**
 * Round trip: a search recorded by the engine, replayed from its own answer file
 * (`--backbone replay --env replay`, replay.ts), gives the same answer file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseMethod } from '../../src/search/method.js';
import { openRecordedRun } from '../../src/search/replay.js';
import { runSearch } from '../../src/search/run-search.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import type { PyObject } from '../../src/util/py-value.js';
import {
  answerArgs,
  asObject,
  call,
  fail,
  finish,
  fn,
  giveUp,
  giveUpArgs,
  say,
  search,
  toolCalls,
  type RunOptions,
  type Step,
} from './scripted.js';

const dir = mkdtempSync(join(tmpdir(), 'toolbench-search-replay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function withoutRunRecord(answer: PyObject): string {
  const { toolbench: _ignored, ...rest } = answer;
  return pyJsonDumps(rest, { indent: 2 });
}

async function roundTrip(method: string, script: readonly Step[], options: RunOptions = {}, replaySeed = options.seed ?? 0): Promise<PyObject> {
  const original = await search(method, script, options);
  const file = join(dir, `${original.task.queryId}_${method}.json`);
  writeFileSync(file, pyJsonDumps(original.answer, { indent: 2 }));
  const recorded = openRecordedRun(file);
  assert.equal(recorded.method, method);
  const replayed = await runSearch(recorded.task, {
    method: parseMethod(recorded.method),
    backbone: recorded.backbone,
    env: recorded.env,
    maxDepth: recorded.maxDepth,
    maxQueryCount: recorded.maxQueryCount,
    seed: replaySeed,
  });
  assert.equal(withoutRunRecord(replayed.answer), withoutRunRecord(original.answer));
  return replayed.answer;
}

describe('replaying an answer file written by the engine', () => {
  test('DFSDT: the worked example (give-up, backtrack, diversity, answer)', async () => {
    await roundTrip('DFS_woFilter_w2', [call(fn('alpha'), '{"q": 1}'), call(fn('beta'), '{"q": 2}'), giveUp(), call(fn('gamma'), '{"q": 3}'), finish('done')]);
  });

  test('DFSDT: thoughts, a text-only reply, a hallucinated name and a failed call', async () => {
    await roundTrip('DFS_woFilter_w2', [
      call(fn('alpha'), '{}', 'First, alpha.'),
      fail('rate limited'),
      say('Let me think.'),
      call('made_up', '{}', 'Try this.'),
      finish('ok', 'Done.'),
    ]);
  });

  test('DFSDT: only give-ups (the recorded give-up is chosen again)', async () => {
    await roundTrip('DFS_woFilter_w2', [call(fn('alpha'), '{}'), giveUp('first'), call(fn('beta'), '{}'), giveUp('second')], { seed: 3 });
  });

  test('DFSDT: a replay reports the recorded give-up whatever its own seed draws', async () => {
    const script = [call(fn('alpha'), '{}'), giveUp('first'), call(fn('beta'), '{}'), giveUp('second')];
    const choices = new Map<number, number>();
    for (let seed = 0; seed < 16 && choices.size < 2; seed++) {
      const { answer } = await search('DFS_woFilter_w2', script, { seed });
      const chosen = Number(asObject(asObject(answer.toolbench).give_up_choice).chosen);
      if (!choices.has(chosen)) choices.set(chosen, seed);
    }
    const [recordSeed, otherSeed] = [choices.get(1), choices.get(0)];
    assert.ok(recordSeed !== undefined && otherSeed !== undefined);
    const replayed = await roundTrip('DFS_woFilter_w2', script, { seed: recordSeed }, otherSeed);
    assert.deepEqual(asObject(replayed.toolbench).give_up_choice, { candidates: 2, chosen: 1, by: 'recording' });
  });

  test('DFSDT: the depth limit', async () => {
    await roundTrip('DFS_woFilter_w2', [call(fn('alpha'), '{"n": 1}'), call(fn('beta'), '{"n": 2}'), call(fn('beta'), '{"n": 3}'), call(fn('alpha'), '{"n": 4}'), call(fn('gamma'), '{"n": 5}'), call(fn('gamma'), '{"n": 6}')], { maxDepth: 4 });
  });

  test('tools shape: parallel calls', async () => {
    await roundTrip(
      'DFS_woFilter_w2',
      [toolCalls('Both.', [fn('alpha'), '{"a": 1}', 'call_a'], [fn('beta'), '{"b": 2}', 'call_b']), toolCalls(undefined, ['Finish', answerArgs('done'), 'call_f'])],
      { shape: 'tools' },
    );
  });

  test('CoT@2: a give-up, then an answer', async () => {
    await roundTrip('CoT@2', [call(fn('alpha'), '{}', 'look'), call('Finish', giveUpArgs()), say('Again.'), finish('x')]);
  });
});

describe('replaying parallel calls off the chosen path', () => {
  test(
    'tools shape: a parallel reply on an abandoned branch',
    async () => {
      await roundTrip(
        'DFS_woFilter_w2',
        [
          toolCalls(undefined, [fn('alpha'), '{"a": 1}', 'call_a'], [fn('beta'), '{"b": 2}', 'call_b']),
          toolCalls(undefined, ['Finish', giveUpArgs(), 'call_g']),
          toolCalls(undefined, ['Finish', answerArgs('done'), 'call_f']),
        ],
        { shape: 'tools' },
      );
    },
  );
});
