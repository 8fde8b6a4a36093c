import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createDirectorySink, createLinesSink, FAILURES_FILE } from '../../src/infer/answer-sink.js';
import type { InferEvent } from '../../src/infer/infer-events.js';
import type { InferJob } from '../../src/infer/infer-job.js';
import { runInfer, type InferRunOptions, type SearchFunction } from '../../src/infer/run-infer.js';
import type { Backbone } from '../../src/llm/backbone.js';
import type { ToolEnv } from '../../src/env/tool-call.js';
import { parseMethod } from '../../src/search/method.js';
import type { SearchResult } from '../../src/search/types.js';
import { ToolbenchError } from '../../src/util/errors.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-run-infer-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let folders = 0;
const freshDir = (): string => join(scratch, `out-${++folders}`);

const METHOD = parseMethod('DFS_woFilter_w2');
const BACKBONE: Backbone = { kind: 'fake', shape: 'tools', complete: () => Promise.reject(new Error('not called')), describe: () => ({}) };
const ENV: ToolEnv = { call: () => Promise.reject(new Error('not called')), close: async () => {} };

function jobs(ids: readonly string[], open?: (id: string) => void): AsyncIterable<InferJob> {
  return (async function* () {
    for (const [position, queryId] of ids.entries()) {
      yield {
        queryId,
        position,
        origin: `test: $[${position}]`,
        open: async () => {
          open?.(queryId);
          return { task: { queryId, query: `query ${queryId}`, functions: [], apis: [], taskDescription: '' }, backbone: BACKBONE, env: ENV };
        },
      };
    }
  })();
}

/** A search that makes one LLM call costing `cost`, waits `delayMs`, and wins. */
function fakeSearch(options: { cost?: number; delayMs?: number; fail?: (queryId: string) => unknown } = {}): SearchFunction {
  return async (task, search) => {
    search.onEvent?.({ type: 'node', depth: 1, nodeType: 'Thought', expandNum: 1 });
    search.onEvent?.({ type: 'llm', purpose: 'agent', depth: 1, ok: true, usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10 }, cost: options.cost ?? 0.01 });
    search.onEvent?.({ type: 'tool', depth: 2, name: 'f', arguments: '{}', observation: 'x'.repeat(100), status: 0, source: 'local' });
    if (options.delayMs !== undefined) await abortableDelay(options.delayMs, search.signal);
    const failure = options.fail?.(task.queryId);
    if (failure !== undefined) throw failure;
    const result: SearchResult = {
      answer: { win: true, answer_generation: { query: task.query } },
      win: task.queryId !== 'lose',
      finishType: task.queryId === 'lose' ? 'give_up' : 'give_answer',
      queryCount: 1,
      totalTokens: 10,
      cost: options.cost ?? 0.01,
    };
    return result;
  };
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

function options(out: string, overrides: Partial<InferRunOptions> = {}): InferRunOptions & { events: InferEvent[]; warnings: string[] } {
  const events: InferEvent[] = [];
  const warnings: string[] = [];
  return {
    method: METHOD,
    maxDepth: 12,
    maxQueryCount: 200,
    seed: 0,
    compat: new Set(),
    workers: 1,
    overwrite: false,
    sink: createDirectorySink(out, METHOD.name),
    search: fakeSearch(),
    onEvent: (event) => events.push(event),
    warn: (message) => warnings.push(message),
    now: () => 1_700_000_000_000,
    events,
    warnings,
    ...overrides,
  };
}

const answerFiles = (out: string): string[] => (existsSync(out) ? readdirSync(out).filter((name) => name.endsWith('.json')).sort() : []);

describe('runInfer', () => {
  test('writes one answer file per query, named <id>_<method>.json, as pyjson-indent-2', async () => {
    const out = freshDir();
    const run = options(out);
    const summary = await runInfer(jobs(['1', 'lose']), run);
    assert.deepEqual(answerFiles(out), ['1_DFS_woFilter_w2.json', 'lose_DFS_woFilter_w2.json']);
    assert.equal(readFileSync(join(out, '1_DFS_woFilter_w2.json'), 'utf8'), '{\n  "win": true,\n  "answer_generation": {\n    "query": "query 1"\n  }\n}');
    assert.deepEqual(
      { ...summary, seconds: 0 },
      { done: 2, skipped: 0, failed: 0, win: 1, give_up: 1, llm_calls: 2, total_tokens: 20, cost: 0.02, seconds: 0, stoppedBy: 'completed', unfinished: 0 },
    );
  });

  test('the event stream: query_start, the search events tagged with the query (no observation text), query_end', async () => {
    const out = freshDir();
    const run = options(out);
    await runInfer(jobs(['7']), run);
    assert.deepEqual(run.events, [
      { event: 'query_start', query_id: '7' },
      { event: 'node', query_id: '7', depth: 1, node_type: 'Thought', expand_num: 1 },
      { event: 'llm', query_id: '7', purpose: 'agent', depth: 1, ok: true, prompt_tokens: 7, completion_tokens: 3, total_tokens: 10, cost: 0.01 },
      { event: 'tool', query_id: '7', depth: 2, name: 'f', status: 0, source: 'local' },
      { event: 'query_end', query_id: '7', file: join(out, '7_DFS_woFilter_w2.json'), win: true, finish_type: 'give_answer', query_count: 1, total_tokens: 10, cost: 0.01 },
    ]);
  });

  test('resume: a query with an answer file is skipped (not opened), unless --overwrite', async () => {
    const out = freshDir();
    await runInfer(jobs(['1']), options(out));
    writeFileSync(join(out, '1_DFS_woFilter_w2.json'), 'earlier');
    const opened: string[] = [];
    const resumed = options(out);
    const summary = await runInfer(jobs(['1', '2'], (id) => opened.push(id)), resumed);
    assert.deepEqual([summary.skipped, summary.done, opened], [1, 1, ['2']]);
    assert.equal(readFileSync(join(out, '1_DFS_woFilter_w2.json'), 'utf8'), 'earlier');
    assert.deepEqual(resumed.events[0], { event: 'query_end', query_id: '1', file: join(out, '1_DFS_woFilter_w2.json'), skipped: true });
    const overwritten = await runInfer(jobs(['1', '2']), options(out, { overwrite: true }));
    assert.deepEqual([overwritten.skipped, overwritten.done], [0, 2]);
    assert.notEqual(readFileSync(join(out, '1_DFS_woFilter_w2.json'), 'utf8'), 'earlier');
  });

  test('a query that fails is recorded in infer-failures.jsonl and the run goes on', async () => {
    const out = freshDir();
    const run = options(out, { search: fakeSearch({ fail: (id) => (id === '2' ? new Error('model went away') : undefined) }) });
    const summary = await runInfer(jobs(['1', '2', '3']), run);
    assert.deepEqual([summary.done, summary.failed, summary.stoppedBy], [2, 1, 'completed']);
    assert.deepEqual(answerFiles(out), ['1_DFS_woFilter_w2.json', '3_DFS_woFilter_w2.json']);
    const failures = readFileSync(join(out, FAILURES_FILE), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(failures, [{ query_id: '2', method: 'DFS_woFilter_w2', error: 'model went away', time: '2023-11-14T22:13:20.000Z' }]);
    assert.ok(run.events.some((event) => event.event === 'query_error' && event.query_id === '2' && event.error === 'model went away'));
    assert.match(run.warnings[0] ?? '', /query 2 failed: model went away/);
  });

  test('a query whose task cannot be built, or whose id cannot name a file, fails alone', async () => {
    const out = freshDir();
    const source = (async function* (): AsyncGenerator<InferJob> {
      yield { queryId: '1', position: 0, origin: 'a', open: () => Promise.reject(new ToolbenchError('input.invalid', 2, 'q.json: $[0].api_list: bad')) };
      yield { queryId: '../x', position: 1, origin: 'b', open: () => Promise.reject(new Error('not opened')) };
      yield* jobs(['3']);
    })();
    const summary = await runInfer(source, options(out));
    assert.deepEqual([summary.failed, summary.done, summary.stoppedBy], [2, 1, 'completed']);
  });

  test('a usage or backbone-configuration error stops the run: in-flight queries are aborted and nothing more starts', async () => {
    for (const fatal of [new ToolbenchError('llm.config', 1, 'HTTP 401: check the API key'), new ToolbenchError('usage.invalid', 2, 'bad flag')]) {
      const out = freshDir();
      const started: string[] = [];
      const search: SearchFunction = async (task, search) => {
        started.push(task.queryId);
        if (task.queryId === '2') throw fatal;
        await abortableDelay(5_000, search.signal);
        throw new Error('unreachable');
      };
      const summary = await runInfer(jobs(['1', '2', '3', '4']), options(out, { search, workers: 2 }));
      assert.equal(summary.stoppedBy, 'fatal');
      assert.equal(summary.fatal, fatal);
      assert.deepEqual([started.sort(), summary.failed, summary.unfinished], [['1', '2'], 0, 2]);
      assert.deepEqual(answerFiles(out), []);
      assert.equal(existsSync(join(out, FAILURES_FILE)), false);
    }
  });

  test('an invalid item is one failed query: recorded without being opened, and the run goes on', async () => {
    const out = freshDir();
    const invalid = new ToolbenchError('input.invalid', 2, 'q.jsonl: line 2, column 9: expected a JSON value');
    const source = (async function* (): AsyncGenerator<InferJob> {
      yield* jobs(['1']);
      yield { queryId: '1', position: 1, origin: 'q.jsonl: line 2', invalid, open: () => Promise.reject(new Error('not opened')) };
      yield* jobs(['3']);
    })();
    const run = options(out);
    const summary = await runInfer(source, run);
    assert.deepEqual([summary.done, summary.failed, summary.stoppedBy, summary.fatal], [2, 1, 'completed', undefined]);
    const failures = readFileSync(join(out, FAILURES_FILE), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(failures, [{ query_id: '1', method: 'DFS_woFilter_w2', error: invalid.message, time: '2023-11-14T22:13:20.000Z' }]);
    assert.deepEqual(run.events.filter((event) => event.event === 'query_error'), [{ event: 'query_error', query_id: '1', error: invalid.message }]);
  });

  test('a query source that breaks stops new queries; those in flight finish and are written', async () => {
    const bad = new ToolbenchError('input.invalid', 2, 'q.json: $[2] (line 1, column 40): expected a JSON value');
    let firstStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    const source = (async function* (): AsyncGenerator<InferJob> {
      yield* jobs(['1']);
      await started; // the second worker asks for a job while query 1 is searched
      throw bad;
    })();
    const search: SearchFunction = async (task, options) => {
      firstStarted();
      await abortableDelay(30, options.signal);
      return fakeSearch()(task, options);
    };
    const out = freshDir();
    const summary = await runInfer(source, options(out, { search, workers: 2 }));
    assert.deepEqual([summary.stoppedBy, summary.fatal, summary.done, summary.unfinished], ['fatal', bad, 1, 0]);
    assert.deepEqual(answerFiles(out), ['1_DFS_woFilter_w2.json']);
  });

  test('an abort while waiting on a source that never ends returns at once', async () => {
    const controller = new AbortController();
    let returned = false;
    const never: AsyncIterable<InferJob> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<InferJob>>(() => undefined),
        return: async () => {
          returned = true;
          return { done: true, value: undefined };
        },
      }),
    };
    setTimeout(() => controller.abort(), 20);
    const summary = await runInfer(never, options(freshDir(), { signal: controller.signal, workers: 2 }));
    assert.deepEqual([summary.stoppedBy, summary.done, returned], ['interrupted', 0, true]);
  });

  test('--max-cost reached while a worker waits on the source: the run ends without waiting for more input', async () => {
    let release: () => void = () => undefined;
    const source = (async function* (): AsyncGenerator<InferJob> {
      yield* jobs(['1']);
      await new Promise<void>((resolve) => (release = resolve)); // a pipe with nothing more for now
      yield* jobs(['2']);
    })();
    const search: SearchFunction = async (task, options) => {
      await abortableDelay(20, options.signal); // the second worker is waiting on the source by now
      return fakeSearch({ cost: 1 })(task, options);
    };
    const summary = await runInfer(source, options(freshDir(), { search, workers: 2, maxCost: 0.5 }));
    release();
    assert.deepEqual([summary.stoppedBy, summary.done], ['max-cost', 1]);
  });

  test('--max-cost: once spent, no new query starts', async () => {
    const out = freshDir();
    const opened: string[] = [];
    const summary = await runInfer(jobs(['1', '2', '3', '4', '5'], (id) => opened.push(id)), options(out, { maxCost: 0.25, search: fakeSearch({ cost: 0.1 }) }));
    assert.equal(summary.stoppedBy, 'max-cost');
    assert.deepEqual([opened, summary.done, answerFiles(out).length], [['1', '2', '3'], 3, 3]);
    assert.ok(summary.cost >= 0.25);
  });

  test('--max-cost counts the calls of queries still in flight; those finish and are written', async () => {
    const out = freshDir();
    const opened: string[] = [];
    let secondHasSpent: () => void = () => undefined;
    const spent = new Promise<void>((resolve) => (secondHasSpent = resolve));
    let firstDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (firstDone = resolve));
    const search: SearchFunction = async (task, options) => {
      const result = await fakeSearch({ cost: 0.1 })(task, options);
      if (task.queryId === '1') await spent; // finishes once query 2 has spent, while 2 is still running
      else {
        secondHasSpent();
        await done;
      }
      if (task.queryId === '1') setTimeout(firstDone, 10);
      return result;
    };
    const summary = await runInfer(jobs(['1', '2', '3'], (id) => opened.push(id)), options(out, { maxCost: 0.15, search, workers: 2 }));
    assert.deepEqual([opened.sort(), summary.done, summary.stoppedBy], [['1', '2'], 2, 'max-cost']);
  });

  test('an abort (Ctrl-C) stops the searches in flight and writes nothing partial; finished answers stay', async () => {
    const out = freshDir();
    const controller = new AbortController();
    const search: SearchFunction = async (task, options) => {
      if (task.queryId === '1') return fakeSearch()(task, options);
      queueMicrotask(() => controller.abort());
      await abortableDelay(5_000, options.signal);
      throw new Error('unreachable');
    };
    const summary = await runInfer(jobs(['1', '2', '3']), options(out, { search, signal: controller.signal }));
    assert.deepEqual([summary.stoppedBy, summary.done, summary.unfinished, summary.failed], ['interrupted', 1, 1, 0]);
    assert.deepEqual(readdirSync(out).sort(), ['1_DFS_woFilter_w2.json'], 'no temporary, partial or failure files');
  });

  test('a search that returns after the abort is not written', async () => {
    const out = freshDir();
    const controller = new AbortController();
    const search: SearchFunction = async (task, options) => {
      controller.abort();
      return fakeSearch()(task, options);
    };
    const summary = await runInfer(jobs(['1', '2']), options(out, { search, signal: controller.signal }));
    assert.deepEqual([summary.stoppedBy, summary.done, summary.unfinished, answerFiles(out)], ['interrupted', 0, 1, []]);
  });

  test('an aborted signal before the start starts nothing', async () => {
    const summary = await runInfer(jobs(['1']), options(freshDir(), { signal: AbortSignal.abort() }));
    assert.deepEqual([summary.stoppedBy, summary.done], ['interrupted', 0]);
  });

  test('--workers bounds the queries in flight', async () => {
    let running = 0;
    let most = 0;
    const search: SearchFunction = async (task, options) => {
      running++;
      most = Math.max(most, running);
      await abortableDelay(5, undefined);
      running--;
      return fakeSearch()(task, options);
    };
    const ids = Array.from({ length: 12 }, (_, index) => String(index));
    const summary = await runInfer(jobs(ids), options(freshDir(), { search, workers: 3 }));
    assert.deepEqual([summary.done, most], [12, 3]);
  });

  test('--out -: each answer is one JSON line on standard output, and nothing is skipped', async () => {
    let stdout = '';
    const sink = createLinesSink({ write: (text: string) => (stdout += text) });
    const summary = await runInfer(jobs(['1', '2']), options(freshDir(), { sink }));
    assert.equal(summary.done, 2);
    const lines = stdout.trimEnd().split('\n');
    assert.deepEqual(lines, ['{"win": true, "answer_generation": {"query": "query 1"}}', '{"win": true, "answer_generation": {"query": "query 2"}}']);
  });

  test('a replay job closes what it opened, and its recorded settings replace the run\'s', async () => {
    let closed = 0;
    let seen: { method: string; maxDepth: number; maxQueryCount: number } | undefined;
    const source = (async function* (): AsyncGenerator<InferJob> {
      yield {
        queryId: '1',
        position: 0,
        origin: 'a',
        open: async () => ({
          task: { queryId: '1', query: 'q', functions: [], apis: [], taskDescription: '' },
          backbone: BACKBONE,
          env: ENV,
          method: parseMethod('CoT@1'),
          maxDepth: 50,
          maxQueryCount: 7,
          close: async () => void closed++,
        }),
      };
    })();
    const search: SearchFunction = async (task, options) => {
      seen = { method: options.method.name, maxDepth: options.maxDepth, maxQueryCount: options.maxQueryCount };
      return fakeSearch()(task, options);
    };
    await runInfer(source, options(freshDir(), { search }));
    assert.deepEqual([seen, closed], [{ method: 'CoT@1', maxDepth: 50, maxQueryCount: 7 }, 1]);
  });
});
