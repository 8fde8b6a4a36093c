/**
 * Method names (algorithms.md §1.3): `CoT@N`, `DFS_woFilter_wN`, `DFS_wFilter_wN`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMethod } from '../../src/search/method.js';
import { ToolbenchError } from '../../src/util/errors.js';

describe('parseMethod', () => {
  const accepted: [string, unknown][] = [
    ['CoT@1', { family: 'CoT', name: 'CoT@1', passAt: 1 }],
    ['CoT@5', { family: 'CoT', name: 'CoT@5', passAt: 5 }],
    ['CoT@01', { family: 'CoT', name: 'CoT@01', passAt: 1 }],
    // the text after the last "@", as upstream's int(method.split("@")[-1])
    ['CoT@1@3', { family: 'CoT', name: 'CoT@1@3', passAt: 3 }],
    ['DFS_woFilter_w2', { family: 'DFS', name: 'DFS_woFilter_w2', width: 2, withFilter: false }],
    ['DFS_wFilter_w2', { family: 'DFS', name: 'DFS_wFilter_w2', width: 2, withFilter: true }],
    ['DFS_woFilter_w1', { family: 'DFS', name: 'DFS_woFilter_w1', width: 1, withFilter: false }],
    ['DFS_wFilter_w12', { family: 'DFS', name: 'DFS_wFilter_w12', width: 12, withFilter: true }],
    // with_filter = not ("woFilter" in method): anything else filters
    ['DFS_w3', { family: 'DFS', name: 'DFS_w3', width: 3, withFilter: true }],
    ['DFSDT_woFilter_w2', { family: 'DFS', name: 'DFSDT_woFilter_w2', width: 2, withFilter: false }],
  ];
  for (const [name, expected] of accepted) {
    test(`accepts ${name}`, () => {
      assert.deepEqual(parseMethod(name), expected);
    });
  }

  const rejected = ['', 'CoT', 'CoT@', 'CoT@0', 'CoT@x', 'CoT@-1', 'CoT1', 'cot@1', 'DFS', 'DFS_woFilter', 'DFS_woFilter_w0', 'DFS_woFilter_wx', 'DFS_woFilter_w', 'BFS_w2', 'dfs_woFilter_w2', 'ReACT'];
  for (const name of rejected) {
    test(`rejects ${JSON.stringify(name)} with a usage error`, () => {
      assert.throws(
        () => parseMethod(name),
        (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && error.message.includes('CoT@N, DFS_woFilter_wN (DFSDT) or DFS_wFilter_wN'),
      );
    });
  }
});
