import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { selectJobs, type InferJob } from '../../src/infer/infer-job.js';
import { inShard, parseShard } from '../../src/infer/shard.js';
import { ToolbenchError } from '../../src/util/errors.js';

function job(queryId: string, position: number): InferJob {
  return { queryId, position, origin: `queries.json: $[${position}]`, open: () => Promise.reject(new Error('not opened in these tests')) };
}

async function select(jobs: InferJob[], selection: Omit<Parameters<typeof selectJobs>[1], 'warn'>): Promise<{ ids: string[]; warnings: string[] }> {
  const warnings: string[] = [];
  const ids: string[] = [];
  async function* source() {
    yield* jobs;
  }
  for await (const selected of selectJobs(source(), { ...selection, warn: (message) => warnings.push(message) })) ids.push(selected.queryId);
  return { ids, warnings };
}

describe('--shard and --ids', () => {
  test('parseShard reads i/n with 1 <= i <= n', () => {
    assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
    assert.deepEqual(parseShard('1/1'), { index: 1, count: 1 });
    for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '-1/2', '1/2/3']) {
      assert.throws(() => parseShard(bad), (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2, bad);
    }
  });

  test('the shards split positions, not ids, and together cover every position once', () => {
    const positions = Array.from({ length: 10 }, (_, position) => position);
    const shards = [1, 2, 3].map((index) => positions.filter((position) => inShard(position, { index, count: 3 })));
    assert.deepEqual(shards, [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]);
    assert.ok(positions.every((position) => inShard(position, undefined)));
  });

  test('selectJobs keeps this shard and the listed ids, skips repeated ids, and names the ids it never saw', async () => {
    const jobs = [job('10', 0), job('11', 1), job('12', 2), job('10', 3), job('14', 4)];
    assert.deepEqual((await select(jobs, {})).ids, ['10', '11', '12', '14']);
    assert.deepEqual((await select(jobs, { shard: { index: 1, count: 2 } })).ids, ['10', '12', '14']);
    const { ids, warnings } = await select(jobs, { ids: new Set(['12', '10', '99']) });
    assert.deepEqual(ids, ['10', '12']);
    assert.match(warnings[0] ?? '', /\$\[3\]: query id 10 already came from queries\.json: \$\[0\]/);
    assert.match(warnings[1] ?? '', /--ids: no query with id 99$/);
  });
});
