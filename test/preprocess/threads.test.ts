/**
 * `preprocess toolllama` on worker threads: the output and the reports are the same whatever the
 * thread count, and the thread pool reports what goes wrong on a thread.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createThreadPool, workerModule } from '../../src/util/thread-pool.js';
import { runToolbench } from '../helpers/cli.js';
import { fixture } from '../helpers/paths.js';

const ANSWERS = fixture('preprocess', 'answers');
const scratch = mkdtempSync(join(tmpdir(), 'toolbench-preprocess-threads-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** 70 answer files (several batches of 16): the fixtures again and again, skipped ones included. */
function manyAnswers(): string {
  const dir = join(scratch, 'answers');
  mkdirSync(dir);
  const sources = readdirSync(ANSWERS).filter((name) => name.includes('DFS_woFilter_w2'));
  for (let index = 0; index < 70; index++) {
    const source = sources[index % sources.length] as string;
    const text = readFileSync(join(ANSWERS, source), 'utf8').replaceAll('Find', `Find (${index})`);
    writeFileSync(join(dir, `${String(1000 + index)}_${source.replace(/^\d+_/, '')}`), text);
  }
  return dir;
}

describe('preprocess toolllama --threads', () => {
  const answers = manyAnswers();
  const run = async (threads: number) => {
    const [out, evaluation] = [join(scratch, `train-${threads}.json`), join(scratch, `eval-${threads}.json`)];
    const args = ['preprocess', 'toolllama', '--answers', answers, '--out', out, '--eval-out', evaluation, '--eval-ratio', '0.3', '--seed', '7', '--threads', String(threads)];
    const result = await runToolbench(args);
    return { ...result, train: readFileSync(out, 'utf8'), evaluation: readFileSync(evaluation, 'utf8') };
  };

  test('2 and 3 threads write the same bytes and report the same skipped files, in order, as 1', async () => {
    const one = await run(1);
    assert.equal(one.code, 3, one.stderr);
    const skipped = one.stderr.split('\n').filter((line) => line.startsWith('warning: skipped: '));
    assert.equal(skipped.length, 30, one.stderr); // 3 of every 6 sources are skipped
    assert.ok(JSON.parse(one.train).length > 0 && JSON.parse(one.evaluation).length > 0);
    for (const threads of [2, 3]) {
      const many = await run(threads);
      assert.equal(many.code, 3, many.stderr);
      assert.equal(many.stderr.replaceAll(`-${threads}.json`, '-1.json'), one.stderr);
      assert.equal(many.train, one.train);
      assert.equal(many.evaluation, one.evaluation);
    }
  });

  test('--threads must be a whole number, 1 or more', async () => {
    for (const value of ['0', '-1', '1.5', 'many']) {
      const result = await runToolbench(['preprocess', 'toolllama', '--answers', answers, '--out', join(scratch, 'x.json'), '--threads', value]);
      assert.equal(result.code, 2, value);
      assert.match(result.stderr, /--threads .*: expected a whole number, 1 or more/);
    }
  });
});

describe('thread pool', () => {
  const entry = workerModule('echo-worker', new URL('../helpers/caller.ts', import.meta.url).href);

  test('finds a worker module beside its caller, and none where there is none', () => {
    assert.ok(entry !== undefined);
    assert.equal(workerModule('no-such-worker', entry.href), undefined);
    assert.equal(workerModule('echo-worker', undefined), undefined);
  });

  test('every input gets its own output; an error thrown on a thread fails that task only', async () => {
    const pool = createThreadPool<{ value: number; fail?: string }, number>(entry as URL, 2);
    try {
      const outputs = await Promise.all(Array.from({ length: 20 }, (_, value) => pool.run({ value })));
      assert.deepEqual(outputs, Array.from({ length: 20 }, (_, value) => value * 2));
      await assert.rejects(pool.run({ value: 1, fail: 'bad input' }), /bad input/);
      assert.equal(await pool.run({ value: 4 }), 8);
    } finally {
      await pool.close();
    }
  });

  test('a thread that exits fails its task and the ones after it', async () => {
    const pool = createThreadPool<{ value: number; exit?: boolean }, number>(entry as URL, 1);
    try {
      const [dying, next] = [pool.run({ value: 1, exit: true }), pool.run({ value: 2 })];
      await assert.rejects(dying, /exit code 5/);
      await assert.rejects(next, /exit code 5/);
      await assert.rejects(pool.run({ value: 3 }), /exit code 5/);
    } finally {
      await pool.close();
    }
  });
});
