import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FINISH_FUNCTION, FINISH_FUNCTION_2023 } from '../../src/protocol/prompts.js';
import { readQueryFile, type Query } from '../../src/registry/query-file.js';
import { functionsFromEnvironment, functionsFromQuery, resolveQueryApis } from '../../src/registry/query-functions.js';
import { ToolEnvironment } from '../../src/registry/tool-environment.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { fixture } from '../helpers/paths.js';

const queries = readQueryFile(fixture('queries', 'edge-queries.json'));
const query = (id: string): Query => queries.find((item) => String(item.queryId) === id) ?? assert.fail(`no query ${id}`);
const environment = ToolEnvironment.open(fixture('toolenv-2023'));
const names = (list: readonly { name: string }[]) => list.map((fn) => fn.name);

describe('function lists for a query', () => {
  test('from the tool environment and from the query descriptions agree when both describe the same APIs', () => {
    const fromTools = functionsFromEnvironment(query('101'), environment);
    const fromQuery = functionsFromQuery(query('101'));
    assert.equal(pyJsonDumps(fromTools.functions), pyJsonDumps(fromQuery.functions));
    assert.deepEqual(names(fromTools.functions), [
      'love_quote_for_quote_garden',
      'quote_by_id_for_quote_garden',
      'quotes_category_random_for_quote_garden',
      'search_for_get_3d_models',
      'Finish',
    ]);
    assert.deepEqual(fromTools.unresolved, []);
  });

  test('Finish is always last, in the current wording or, when asked, the 2023 one', () => {
    assert.equal(functionsFromQuery(query('105')).functions.at(-1), FINISH_FUNCTION);
    const finish2023 = functionsFromQuery(query('105'), { digitPrefix: true, finish: '2023' }).functions.at(-1);
    assert.equal(finish2023, FINISH_FUNCTION_2023);
    assert.match(finish2023?.description ?? '', /^If you think you get the result which can answer the task/);
    assert.deepEqual(finish2023?.parameters, FINISH_FUNCTION.parameters);
  });

  test('keeps the exact defaults of the tool file: 10.0, 1e-05, None, [], {} and a 30-digit integer', () => {
    const search = functionsFromEnvironment(query('105'), environment).functions[1];
    const text = pyJsonDumps(search);
    for (const fragment of [
      '"get_3d_format": {"type": "string", "description": "obj, stl or glb", "example_value": null}',
      '"example_value": 10.0}',
      '"example_value": 1.5}',
      '"example_value": 1e-05}',
      '"example_value": []}',
      '"example_value": {}}',
      '"example_value": true}',
      '"example_value": 123456789012345678901234567890}',
      '"since": {"type": "string", "description": "Only models added since"}',
    ]) {
      assert.ok(text.includes(fragment), `missing ${fragment}`);
    }
  });

  test('names: leading digits, CJK, is_ prefixes and 64-character truncation', () => {
    const stats = functionsFromQuery(query('105')).functions[0];
    assert.equal(stats?.name, 'get_2023_stats_for_get_3d_models');
    const fromTools = functionsFromEnvironment(query('102'), environment).functions;
    assert.equal(fromTools[0]?.name, '查询_城市_for_天气预报_api');
    // a 62-character tool name leaves 2 characters of "<api>_for_": the API name is cut away
    assert.equal(fromTools[1]?.name, 'r_a_very_long_tool_name_for_testing_truncation_of_function_names');
    assert.equal(pyJsonDumps(fromTools[1]?.parameters.required), '["is_and"]');
    assert.equal(pyJsonDumps(fromTools[1]?.parameters), pyJsonDumps({ type: 'object', properties: (fromTools[1]?.parameters as { properties: object }).properties, required: ['is_and'], optional: ['is_true'] }));
  });

  test('without the digit prefix, API names keep their leading digit (the 2023 reference predictions)', () => {
    const stats = functionsFromQuery(query('105'), { digitPrefix: false, finish: 'current' }).functions[0];
    assert.equal(stats?.name, '2023_stats_for_get_3d_models', 'the tool name still comes from its file name');
  });

  test('duplicate function names are kept, in order, and reported', () => {
    const result = functionsFromEnvironment(query('104'), environment);
    assert.deepEqual(names(result.functions), ['get_user_for_duplicate_names', 'get_user_for_duplicate_names', 'get_user_for_duplicate_names', 'Finish']);
    assert.deepEqual(result.duplicateNames, ['get_user_for_duplicate_names']);
    // all three api_list entries standardize to get_user: upstream takes the first API of the tool each time
    assert.ok(result.functions.slice(0, -1).every((fn) => fn.description.endsWith('"First get user."')));
  });

  test('APIs the environment lacks are left out and reported with a reason; the others keep their own tool', () => {
    const result = functionsFromEnvironment(query('103'), environment);
    assert.deepEqual(names(result.functions), ['love_quote_for_quote_garden', 'Finish']);
    assert.deepEqual(
      result.unresolved.map((missing) => [missing.ref.path, missing.reason, missing.message]),
      [
        ['$[2].api_list[0]', 'tool-missing', 'no tool file Data/nowhere_tool.json for tool "Nowhere Tool"'],
        ['$[2].api_list[1]', 'api-missing', 'tool Social/quote_garden.json has no API "Hate Quote" (standardized: hate_quote)'],
        ['$[2].api_list[2]', 'tool-missing', 'no tool file Entertainment/quote_garden.json for tool "Quote Garden"; a tool with that file name is in Social'],
      ],
    );
  });

  test('an API is matched by its standardized name ("love-quote" finds "Love Quote")', () => {
    const resolutions = resolveQueryApis(query('103'), environment);
    const last = resolutions[3];
    assert.equal(last?.kind, 'resolved');
    assert.equal(last?.kind === 'resolved' ? last.api.name : '', 'Love Quote');
  });

  test('a query without descriptions needs the tool environment (exit 2 naming the entry)', () => {
    assert.throws(
      () => functionsFromQuery(query('102')),
      (error: unknown) =>
        error instanceof ToolbenchError && error.exitCode === 2 && /\$\[1\]\.api_list\[0\]\.api_description: expected a string \(this query does not describe its APIs; pass --tools DIR/.test(error.message),
    );
  });

  test('the ToolEnv2404 layout: a tool whose name standardizes to "" lives in ".json"', () => {
    const queries2404 = readQueryFile(fixture('queries', 'toolenv2404-queries.json'));
    const result = functionsFromEnvironment(queries2404[0] as Query, ToolEnvironment.open(fixture('toolenv-2404')));
    assert.deepEqual(names(result.functions), ['convert_for_currency_converter', 'match_details_for_live_scores', 'matches_for_live_scores', 'echo_for_', 'Finish']);
    assert.deepEqual(result.functions[0]?.parameters.required, ['is_from', 'to', 'amount']);
    assert.match(result.functions[1]?.description ?? '', /Details of a match: match_details_for_live_scores for one id\./);
  });
});
