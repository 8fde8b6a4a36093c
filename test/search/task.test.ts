/**
 * Building a search task from a query (algorithms.md §2–§4): function list, aligned API refs,
 * task description; and using it in a search.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FINISH_FUNCTION, FINISH_FUNCTION_2023, TASK_DESCRIPTION_PREFIX } from '../../src/protocol/prompts.js';
import { readQueryFile, type Query } from '../../src/registry/query-file.js';
import { ToolEnvironment } from '../../src/registry/tool-environment.js';
import { resolveFunction } from '../../src/search/agent-step.js';
import { initialMessages } from '../../src/search/run-search.js';
import { buildSearchTask } from '../../src/search/task.js';
import { fixture } from '../helpers/paths.js';
import { call, finish, search } from './scripted.js';

const queries = readQueryFile(fixture('queries', 'edge-queries.json'));
const query = (id: string): Query => queries.find((item) => String(item.queryId) === id) ?? assert.fail(`no query ${id}`);
const tools = ToolEnvironment.open(fixture('toolenv-2023'));
const noWarnings = (message: string): never => assert.fail(`unexpected warning: ${message}`);

describe('buildSearchTask', () => {
  test('from the query alone: functions, aligned APIs, Finish last with no API, tool lines without descriptions', () => {
    const task = buildSearchTask(query('101'), { warn: noWarnings });
    assert.equal(task.queryId, '101');
    assert.equal(task.query, 'I need a love quote and the quote with id 7, plus some 3D chairs.');
    assert.deepEqual(
      task.functions.map((schema) => schema.name),
      ['love_quote_for_quote_garden', 'quote_by_id_for_quote_garden', 'quotes_category_random_for_quote_garden', 'search_for_get_3d_models', 'Finish'],
    );
    assert.deepEqual(task.apis, [
      { category: 'Social', tool: 'quote_garden', api: 'love_quote' },
      { category: 'Social', tool: 'quote_garden', api: 'quote_by_id' },
      { category: 'Social', tool: 'quote_garden', api: 'quotes_category_random' },
      { category: 'Data', tool: 'get_3d_models', api: 'search' },
      undefined,
    ]);
    assert.equal(task.functions.at(-1), FINISH_FUNCTION);
    assert.equal(task.taskDescription, `${TASK_DESCRIPTION_PREFIX}1.quote_garden: None\n2.get_3d_models: None\n`);
    assert.equal(task.rootMessages, undefined);
  });

  test('from a tool folder: tool descriptions in the task description, the same functions', () => {
    const task = buildSearchTask(query('101'), { tools, warn: noWarnings });
    assert.equal(task.functions.length, 5);
    assert.equal(
      task.taskDescription,
      `${TASK_DESCRIPTION_PREFIX}1.quote_garden: Quotes for every occasion.Love, success and motivation quotes, picked at random.\n2.get_3d_models: Search a catalogue of 3D models.\n`,
    );
  });

  test('an API the tool folder lacks is left out with a warning; the lists stay aligned', () => {
    const warnings: string[] = [];
    const task = buildSearchTask(query('103'), { tools, warn: (message) => warnings.push(message) });
    assert.equal(warnings.length, 3);
    assert.ok(warnings.every((message) => message.startsWith('query 103: ') && message.endsWith('; the function is left out')));
    assert.deepEqual(
      task.functions.map((schema) => schema.name),
      ['love_quote_for_quote_garden', 'Finish'],
    );
    assert.deepEqual(task.apis, [{ category: 'Social', tool: 'quote_garden', api: 'love_quote' }, undefined]);
  });

  test('a query without an id takes its position; a list query is its Python str()', () => {
    const task = buildSearchTask(query('4'), { warn: noWarnings });
    assert.equal(task.queryId, '4');
    assert.equal(task.query, "['A query without an id, written as a list.', 'Second sentence.']");
  });

  test('the 2023 Finish wording on request', () => {
    assert.equal(buildSearchTask(query('105'), { finish: '2023', warn: noWarnings }).functions.at(-1), FINISH_FUNCTION_2023);
    assert.equal(buildSearchTask(query('105'), { tools, finish: '2023', warn: noWarnings }).functions.at(-1), FINISH_FUNCTION_2023);
  });

  test('every function name resolves to its own API (a 64-character truncated name too)', () => {
    for (const id of ['101', '102', '105']) {
      const task = buildSearchTask(query(id), { tools, warn: noWarnings });
      task.functions.forEach((schema, index) => {
        if (schema.name === 'Finish') return;
        assert.equal(resolveFunction(task, schema.name), index, `${id}: ${schema.name}`);
      });
    }
    const long = buildSearchTask(query('102'), { tools, warn: noWarnings });
    assert.equal(long.functions[1]?.name, 'r_a_very_long_tool_name_for_testing_truncation_of_function_names');
    assert.deepEqual(long.apis[1], {
      category: 'Tools',
      tool: 'a_very_long_tool_name_for_testing_truncation_of_function_names',
      api: 'retrieve_the_complete_historical_record_of_every_single_measurement_taken',
    });
  });

  test('root messages: the agent prompts of prompts.md §1.1 and §1.3 with the task', () => {
    const task = buildSearchTask(query('101'), { tools, warn: noWarnings });
    const [system, user] = initialMessages(task);
    assert.equal(system?.role, 'system');
    assert.ok(String(system?.content).includes('you can\'t go back to one of the former state, if you want to restart the task, say "I give up and restart".'));
    assert.ok(String(system?.content).endsWith(`\nLet's Begin!\nTask description: ${task.taskDescription}`));
    assert.deepEqual(user, { role: 'user', content: '\nI need a love quote and the quote with id 7, plus some 3D chairs.\nBegin!\n' });
  });

  test('a search on a built task calls the tool environment with the API refs', async () => {
    const task = buildSearchTask(query('101'), { tools, warn: noWarnings });
    const { env, answer } = await search('DFS_woFilter_w2', [call('quote_by_id_for_quote_garden', '{"id": "7"}'), finish('ok')], { task });
    assert.deepEqual(env.calls, [{ api: { category: 'Social', tool: 'quote_garden', api: 'quote_by_id' }, args: '{"id": "7"}' }]);
    assert.equal(answer.win, true);
  });

  test('rootMessages given by the task replace the prompts (replay)', async () => {
    const base = buildSearchTask(query('101'), { warn: noWarnings });
    const rootMessages = [
      { role: 'system', content: 'recorded system' },
      { role: 'user', content: 'recorded user' },
    ];
    const { backbone } = await search('CoT@1', [finish('ok')], { task: { ...base, rootMessages } });
    assert.deepEqual(backbone.requests[0]?.snapshot, rootMessages);
  });
});
