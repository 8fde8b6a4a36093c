/**
 * Answer file layout (formats.md §3): key orders of the DFS and CoT files, `answer_generation`
 * and node records, as Object.keys (what pyjson writes).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { asArray, asObject, call, fail, finish, fn, giveUp, search } from './scripted.js';

const DFS_GENERATION_KEYS = ['valid_data', 'query_count', 'total_tokens', 'final_answer', 'finish_type', 'function', 'chain', 'train_messages', 'query'];
const COT_GENERATION_KEYS = ['valid_data', 'final_answer', 'function', 'query_count', 'total_tokens', 'train_messages', 'chain', 'query'];
const NODE_KEYS = ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'observation', 'observation_code', 'child_count', 'expand_num', 'io_state'];

describe('DFS answer file', () => {
  test('top level, tree, forward_args, answer_generation (with train_messages)', async () => {
    const { answer } = await search('DFS_woFilter_w2', [call(fn('alpha'), '{}', 'think'), finish('x')]);
    assert.deepEqual(Object.keys(answer), ['win', 'tree', 'forward_args', 'compare_candidates', 'answer_generation', 'toolbench']);
    assert.deepEqual(Object.keys(asObject(answer.tree)), ['size', 'max_length', 'tree']);
    assert.deepEqual(Object.keys(asObject(answer.forward_args)), ['single_chain_max_step', 'tree_beam_size', 'max_query_count', 'answer', 'with_filter']);
    assert.deepEqual(Object.keys(asObject(answer.answer_generation)), DFS_GENERATION_KEYS);
    const text = pyJsonDumps(answer, { indent: 2 });
    assert.ok(text.startsWith('{\n  "win": true,\n  "tree": {\n    "size": 6,\n    "max_length": 6,\n    "tree": {\n      "is_terminal": false,'), text.slice(0, 200));
  });

  test('answer_generation without a chosen node has no train_messages', async () => {
    const { answer } = await search('DFS_woFilter_w1', [fail('down')]);
    assert.deepEqual(
      Object.keys(asObject(answer.answer_generation)),
      DFS_GENERATION_KEYS.filter((key) => key !== 'train_messages'),
    );
  });

  test('answer_generation of a give-up has train_messages', async () => {
    const { answer } = await search('DFS_woFilter_w1', [giveUp()]);
    assert.deepEqual(Object.keys(asObject(answer.answer_generation)), DFS_GENERATION_KEYS);
    assert.deepEqual(Object.keys(asObject(answer.toolbench)), ['method', 'backbone', 'seed', 'compat', 'cost', 'give_up_choice']);
  });

  test('node records in the tree and in compare_candidates', async () => {
    const { answer } = await search('DFS_woFilter_w2', [call(fn('alpha'), '{}'), finish('x')]);
    const root = asObject(asObject(answer.tree).tree);
    const action = asObject(asArray(root.children)[0]);
    const input = asObject(asArray(action.children)[0]);
    assert.deepEqual(Object.keys(input), [...NODE_KEYS, 'children']);
    assert.deepEqual(
      Object.keys(action),
      ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'child_count', 'expand_num', 'children'],
    );
    const candidate = asArray(asArray(answer.compare_candidates)[0]);
    assert.deepEqual(Object.keys(asObject(candidate.at(-1))), NODE_KEYS);
    assert.equal(candidate.length, 4);
  });

  test('toolbench block: method, backbone description, seed, compat, cost; stopped_by when it applies', async () => {
    const { answer } = await search('DFS_woFilter_w2', [call(fn('alpha'), '{}'), call(fn('beta'), '{}')], { maxQueryCount: 2, seed: 9, compat: ['dfs-2023'] });
    assert.deepEqual(answer.toolbench, {
      method: 'DFS_woFilter_w2',
      backbone: { backbone: 'scripted', shape: 'functions' },
      seed: 9,
      compat: ['dfs-2023'],
      cost: 0.5,
      stopped_by: 'max-query-count',
    });
  });
});

describe('CoT answer file', () => {
  test('top level, forward_args, answer_generation, trys', async () => {
    const { answer } = await search('CoT@2', [giveUp(), finish('x')]);
    assert.deepEqual(Object.keys(answer), ['win', 'try_count', 'trys', 'compare_candidates', 'forward_args', 'answer_generation', 'toolbench']);
    assert.deepEqual(Object.keys(asObject(answer.forward_args)), ['single_chain_max_step', 'pass_at', 'answer']);
    assert.deepEqual(Object.keys(asObject(answer.answer_generation)), COT_GENERATION_KEYS);
    const chain = asArray(asObject(asArray(answer.trys)[0]).chain);
    assert.deepEqual(Object.keys(asObject(chain.at(-1))), NODE_KEYS);
  });

  test('an invalid CoT file keeps train_messages (empty)', async () => {
    const { answer } = await search('CoT@1', [giveUp()]);
    const generation = asObject(answer.answer_generation);
    assert.deepEqual(Object.keys(generation), COT_GENERATION_KEYS);
    assert.deepEqual(generation.train_messages, []);
    assert.deepEqual(Object.keys(asObject(answer.toolbench)), ['method', 'backbone', 'seed', 'compat', 'cost']);
  });
});
