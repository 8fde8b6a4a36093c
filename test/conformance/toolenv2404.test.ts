/**
 * Conformance: the real test queries against the real ToolEnv2404 tools. The 2024 crawl is newer
 * than the queries, so some tools and APIs are gone; each one must be reported with a reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { standardize } from '../../src/registry/names.js';
import { readQueryFile, type Query } from '../../src/registry/query-file.js';
import { functionsFromEnvironment, functionsFromQuery, resolveQueryApis } from '../../src/registry/query-functions.js';
import { ToolEnvironment } from '../../src/registry/tool-environment.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { SKIP_WITHOUT_DATA, TOOLENV2404, dataPath, TEST_SETS } from '../helpers/paths.js';

function testQueries(): Query[] {
  return TEST_SETS.flatMap((set) => readQueryFile(dataPath(`stabletoolbench/solvable_queries/test_instruction/${set}.json`)));
}

/** The README's list of test-set tools absent from the ToolEnv2404 subset (entries without *). */
function toolsListedAsAbsent(): Set<string> {
  const readme = readFileSync(dataPath('README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Test-set tools absent'));
  const listed = new Set<string>();
  for (const line of section.split('\n')) {
    const match = line.match(/^- ([^:]+): (.*)$/);
    for (const tool of match?.[2]?.split(', ') ?? []) if (!tool.endsWith('*')) listed.add(`${match?.[1]}/${tool}`);
  }
  return listed;
}

describe('the 765 test queries against ToolEnv2404', { skip: SKIP_WITHOUT_DATA }, () => {
  test('every api_list entry resolves or is reported with a reason; the missing tools are exactly the documented ones', () => {
    const environment = ToolEnvironment.open(TOOLENV2404);
    const queries = testQueries();
    assert.equal(queries.length, 765);
    const counts = { resolved: 0, 'tool-missing': 0, 'api-missing': 0 };
    const missingTools = new Set<string>();
    for (const query of queries) {
      for (const resolution of resolveQueryApis(query, environment)) {
        if (resolution.kind === 'resolved') {
          counts.resolved++;
          continue;
        }
        counts[resolution.reason]++;
        assert.match(resolution.message, resolution.reason === 'tool-missing' ? /^no tool file \S+\.json for tool / : /^tool \S+\.json has no API /);
        if (resolution.reason === 'tool-missing') missingTools.add(`${resolution.ref.categoryName}/${standardize(resolution.ref.toolName)}`);
      }
    }
    assert.deepEqual(counts, { resolved: 3031, 'tool-missing': 733, 'api-missing': 306 });
    assert.deepEqual([...missingTools].sort(), [...toolsListedAsAbsent()].sort());
  });

  test('where the tool file still describes an API as the query does, --tools gives the same function', () => {
    const environment = ToolEnvironment.open(TOOLENV2404);
    let agreeing = 0;
    for (const query of testQueries()) {
      const fromQuery = functionsFromQuery(query).functions;
      const fromTools = functionsFromEnvironment(query, environment);
      if (fromTools.unresolved.length > 0) continue;
      resolveQueryApis(query, environment).forEach((resolution, index) => {
        if (resolution.kind !== 'resolved') return;
        const { ref, api } = resolution;
        const same =
          ref.apiName === api.name &&
          ref.apiDescription === api.description &&
          pyJsonDumps(ref.raw.required_parameters) === pyJsonDumps(api.requiredParameters.map(rawParameter)) &&
          pyJsonDumps(ref.raw.optional_parameters) === pyJsonDumps(api.optionalParameters.map(rawParameter));
        if (!same) return;
        agreeing++;
        assert.equal(pyJsonDumps(fromTools.functions[index]), pyJsonDumps(fromQuery[index]), `${query.file} ${query.queryId} ${ref.apiName}`);
      });
    }
    assert.ok(agreeing > 1000, `only ${agreeing} APIs agree`);
  });
});

function rawParameter(parameter: { name: string; type: string; description: string; default: unknown }): unknown {
  return { name: parameter.name, type: parameter.type, description: parameter.description, default: parameter.default };
}
