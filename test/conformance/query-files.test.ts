/** Conformance: every real query file and test-id file reads cleanly, and they agree. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readQueryFile, readTestIds } from '../../src/registry/query-file.js';
import { SKIP_WITHOUT_DATA, dataPath, TEST_SETS } from '../helpers/paths.js';

describe('real query files', { skip: SKIP_WITHOUT_DATA }, () => {
  test('each solvable test set and its test-id file hold the same ids, in the same order', () => {
    const sizes = TEST_SETS.map((set) => {
      const queries = readQueryFile(dataPath(`stabletoolbench/solvable_queries/test_instruction/${set}.json`));
      const ids = readTestIds(dataPath(`stabletoolbench/solvable_queries/test_query_ids/${set}.json`));
      assert.deepEqual(ids, queries.map((query) => String(query.queryId)), set);
      assert.ok(queries.every((query) => query.apiList !== undefined && query.relevantApis !== undefined), set);
      return queries.length;
    });
    assert.deepEqual(sizes, [163, 153, 158, 106, 124, 61]);
  });

  test('the example set keeps its file order ({"588": 0, "608": 0, "1073": 0})', () => {
    assert.deepEqual(readTestIds(dataPath('stabletoolbench/solvable_queries_example/test_query_ids/G1_instruction.json')), ['588', '608', '1073']);
  });

  test('the ToolBench samples read too, including open-domain queries without api_list', () => {
    const files: [string, number][] = [
      ['toolbench/data_example/instruction/G1_query.json', 5],
      ['toolbench/data_example/instruction/G2_query.json', 3],
      ['toolbench/data_example/instruction/G3_query.json', 2],
      ['toolbench/data_example/instruction/inference_query_demo.json', 1],
      ['toolbench/data_example/instruction/inference_query_demo_open_domain.json', 1],
      ['toolbench/history-b2384c2/data/query/queryG1_demo.json', 3],
    ];
    for (const [file, count] of files) assert.equal(readQueryFile(dataPath(file)).length, count, file);
    const [openDomain] = readQueryFile(dataPath('toolbench/data_example/instruction/inference_query_demo_open_domain.json'));
    assert.equal(openDomain?.apiList, undefined);
    assert.equal(readTestIds(dataPath('toolbench/history-b2384c2/data/retriever/G1_instruction_test_ids.json')).length, 205);
  });
});
