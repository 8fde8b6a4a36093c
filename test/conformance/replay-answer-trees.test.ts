/**
 * `--env replay` against real answer trees: replaying each DFS and CoT answer file of the shared
 * data, call by call in the order the search made them, gives back every recorded observation
 * and status code unchanged (spec formats.md §3; replay-env.ts).
 */
import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { describe, test } from 'node:test';
import { shapeToolEnv } from '../../src/env/observation.js';
import { createReplayBackend } from '../../src/env/replay-env.js';
import { TOOL_STATUS } from '../../src/env/status.js';
import type { ApiRef, ToolEnv } from '../../src/env/tool-call.js';
import { functionName } from '../../src/registry/names.js';
import { isPyObject, type PyObject } from '../../src/util/py-value.js';
import { answerFiles } from '../helpers/answer-files.js';
import { SKIP_WITHOUT_DATA, TOOLBENCH_DATA } from '../helpers/paths.js';

interface RecordedCall {
  readonly name: string;
  readonly args: string;
  readonly observation: string;
  readonly status: number;
}

/** Tool calls in creation order: the preorder of a DFS tree, then each CoT try's chain. */
function callsOf(answer: PyObject): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const visit = (node: PyObject, parent: PyObject | undefined): void => {
    const call = toolCall(node, parent);
    if (call !== undefined) calls.push(call);
    for (const child of Array.isArray(node.children) ? node.children : []) if (isPyObject(child)) visit(child, node);
  };
  if (isPyObject(answer.tree) && isPyObject(answer.tree.tree)) visit(answer.tree.tree, undefined);
  for (const attempt of Array.isArray(answer.trys) ? answer.trys : []) {
    const chain = isPyObject(attempt) && Array.isArray(attempt.chain) ? attempt.chain.filter(isPyObject) : [];
    chain.forEach((node, index) => {
      const call = toolCall(node, chain[index - 1]);
      if (call !== undefined) calls.push(call);
    });
  }
  return calls;
}

/** An `Action Input` under an `Action` naming a real function (not Finish, not status 1). */
function toolCall(node: PyObject, parent: PyObject | undefined): RecordedCall | undefined {
  if (node.node_type !== 'Action Input' || parent?.node_type !== 'Action') return undefined;
  const name = parent.description;
  if (name === 'Finish' || node.observation_code === TOOL_STATUS.noSuchFunction) return undefined;
  assert.equal(typeof name, 'string', 'Action description');
  assert.equal(typeof node.description, 'string', 'Action Input description');
  assert.equal(typeof node.observation, 'string', `observation of ${String(name)}`);
  assert.equal(typeof node.observation_code, 'number', `observation_code of ${String(name)}`);
  return { name: name as string, args: node.description as string, observation: node.observation as string, status: node.observation_code as number };
}

/** `<api>_for_<tool>` split at its last `_for_`; answer trees know no category. */
function apiRefOf(name: string): ApiRef {
  const cut = name.lastIndexOf('_for_');
  assert.ok(cut > 0, `${name}: no _for_`);
  return { category: 'X', tool: name.slice(cut + '_for_'.length), api: name.slice(0, cut) };
}

/** Names of the functions the model was given (ToolBench: plain objects; StableToolBench: `{type, function}`). */
function functionNames(answer: PyObject): string[] {
  const generation = isPyObject(answer.answer_generation) ? answer.answer_generation : {};
  return (Array.isArray(generation.function) ? generation.function : []).flatMap((entry) => {
    const schema = isPyObject(entry) && isPyObject(entry.function) ? entry.function : entry;
    return isPyObject(schema) && typeof schema.name === 'string' ? [schema.name] : [];
  });
}

/**
 * The function a call went to: upstream takes the first function whose name ends with the name
 * the model wrote (spec algorithms.md §5.2 step 2), so `dota_2_steam_web` called
 * `match_history_for_dota_2_steam_web`.
 */
function resolvedName(name: string, functions: readonly string[]): string {
  return functions.find((candidate) => candidate.endsWith(name)) ?? name;
}

const noSleep = async (): Promise<void> => {};

function replayEnv(file: string, warnings: string[]): ToolEnv {
  const backend = createReplayBackend([file], { warn: (message) => warnings.push(message) });
  return shapeToolEnv(backend, { maxObservationLength: 16, rateLimitPauseMs: 0, sleep: noSleep });
}

describe('replaying real answer trees', { skip: SKIP_WITHOUT_DATA }, () => {
  const files = SKIP_WITHOUT_DATA === false ? answerFiles() : [];

  test('the shared data holds 27 answer files with 376 tool calls to replay', (t) => {
    const calls = files.reduce((sum, { answer }) => sum + callsOf(answer).length, 0);
    t.diagnostic(`${files.length} files, ${calls} calls`);
    assert.equal(files.length, 27);
    assert.equal(calls, 376);
  });

  for (const { file, answer } of files) {
    test(`${relative(TOOLBENCH_DATA, file)}: every call gives back its recorded observation and status`, async (t) => {
      const functions = functionNames(answer);
      const calls = callsOf(answer).filter((call) => resolvedName(call.name, functions) === call.name);
      const warnings: string[] = [];
      const env = replayEnv(file, warnings);
      for (const [index, call] of calls.entries()) {
        const api = apiRefOf(call.name);
        assert.equal(functionName(api.api, api.tool), call.name, `call ${index}: function name round trip`);
        const result = await env.call(api, call.args);
        assert.deepEqual(
          { observation: result.observation, status: result.status, source: result.source },
          { observation: call.observation, status: call.status, source: 'recorded' },
          `call ${index}: ${call.name}(${call.args})`,
        );
      }
      await env.close();
      assert.deepEqual(warnings, []);
      t.diagnostic(`${calls.length} calls replayed`);
    });
  }

  test(
    'a call the model named by a suffix of a function replays under the function it went to',
    async (t) => {
      let replayed = 0;
      for (const { file, answer } of files) {
        const functions = functionNames(answer);
        const calls = callsOf(answer).filter((call) => resolvedName(call.name, functions) !== call.name);
        if (calls.length === 0) continue;
        const env = replayEnv(file, []);
        for (const call of calls) {
          const result = await env.call(apiRefOf(resolvedName(call.name, functions)), call.args);
          assert.deepEqual(
            { observation: result.observation, status: result.status },
            { observation: call.observation, status: call.status },
            `${relative(TOOLBENCH_DATA, file)}: ${call.name} -> ${resolvedName(call.name, functions)}(${call.args})`,
          );
          replayed++;
        }
        await env.close();
      }
      t.diagnostic(`${replayed} calls named by a suffix`);
      assert.equal(replayed, 1);
    },
  );
});
