import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveInferSettings, type InferFlags } from '../../src/infer/infer-settings.js';
import { formatCost, formatCount, formatDuration, formatSummary } from '../../src/infer/infer-summary.js';
import type { InferSummary } from '../../src/infer/run-infer.js';
import { createBackbone, type BackboneSettings } from '../../src/llm/create-backbone.js';
import { ToolbenchError } from '../../src/util/errors.js';

const usage = (pattern: RegExp) => (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && pattern.test(error.message);
const base: InferFlags = { queries: ['q.json'], out: 'answers' };

describe('infer settings', () => {
  test('defaults: DFSDT width 2, openai with the tools shape, 200 calls, depth 12, one worker', () => {
    const settings = resolveInferSettings(base, {});
    assert.equal(settings.method.name, 'DFS_woFilter_w2');
    assert.deepEqual(
      [settings.backbone, settings.shape, settings.maxQueryCount, settings.maxDepth, settings.workers, settings.finish, settings.overwrite],
      ['openai', 'tools', 200, 12, 1, 'current', false],
    );
    assert.equal(settings.baseUrl, undefined);
    assert.ok(Object.isFrozen(settings));
  });

  test('toolllama defaults to the functions shape; the endpoint comes from --base-url, then OPENAI_BASE_URL, then OPENAI_API_BASE', () => {
    const settings = resolveInferSettings({ ...base, backbone: 'toolllama', history: 'stabletoolbench' }, { OPENAI_API_BASE: 'http://b/v1' });
    assert.deepEqual([settings.shape, settings.history, settings.baseUrl], ['functions', 'stabletoolbench', 'http://b/v1']);
    assert.equal(resolveInferSettings(base, { OPENAI_BASE_URL: 'http://a/v1', OPENAI_API_BASE: 'http://b/v1' }).baseUrl, 'http://a/v1');
    assert.equal(resolveInferSettings({ ...base, baseUrl: 'http://c/v1' }, { OPENAI_BASE_URL: 'http://a/v1' }).baseUrl, 'http://c/v1');
  });

  test('numbers, lists and choices', () => {
    const settings = resolveInferSettings(
      { ...base, workers: '8', rpm: '600', shard: '2/4', ids: '588, 1055,,', maxCost: '2.5', temperature: '0.7', maxTokens: '512', compat: ['dfs-2023'], finish: '2023', method: 'CoT@3' },
      {},
    );
    assert.deepEqual([settings.workers, settings.rpm, settings.shard, [...(settings.ids ?? [])], settings.maxCost, settings.temperature, settings.maxTokens], [8, 600, { index: 2, count: 4 }, ['588', '1055'], 2.5, 0.7, 512]);
    assert.deepEqual([[...settings.compat], settings.finish, settings.method], [['dfs-2023'], '2023', { family: 'CoT', name: 'CoT@3', passAt: 3 }]);
  });

  test('bad usage is a usage error naming the flag', () => {
    const cases: [InferFlags, RegExp][] = [
      [{ ...base, modelPath: 'ckpt', backbone: 'openai' }, /--model-path runs the checkpoint in-process with --backbone toolllama, not openai/],
      [{ ...base, loraPath: 'lora' }, /--lora-path is an adapter for --model-path DIR/],
      [{ ...base, modelPath: 'ckpt', baseUrl: 'http://127.0.0.1:1/v1' }, /--model-path runs the model in-process; --base-url is for a model served elsewhere/],
      [{ out: 'answers' }, /--queries FILE is required/],
      [{ ...base, out: undefined }, /--out is required/],
      [{ ...base, out: '-', json: true }, /--out - and --json both write to standard output/],
      [{ ...base, backbone: 'replay' }, /leave out --queries/],
      [{ ...base, backbone: 'gpt' }, /--backbone gpt: expected one of openai, toolllama, replay/],
      [{ ...base, history: 'training' }, /--history is for --backbone toolllama/],
      [{ ...base, truncatePromptTokens: '4096' }, /--truncate-prompt-tokens is for --backbone toolllama/],
      [{ ...base, backbone: 'toolllama', truncatePromptTokens: '-1' }, /--truncate-prompt-tokens -1: expected an integer of at least 0/],
      [{ ...base, workers: '0' }, /--workers 0: expected an integer of at least 1/],
      [{ ...base, workers: '2.5' }, /--workers 2.5/],
      [{ ...base, temperature: '3' }, /--temperature 3: expected a number from 0 to 2/],
      [{ ...base, maxCost: '-1' }, /--max-cost -1/],
      [{ ...base, ids: ' , ' }, /--ids/],
      [{ ...base, compat: ['nope'] }, /--compat nope: expected one of dfs-2023/],
      [{ ...base, method: 'BFS' }, /--method BFS/],
      [{ ...base, shard: '3/2' }, /--shard 3\/2/],
      [{ ...base, shape: 'xml' }, /--shape xml/],
    ];
    for (const [flags, pattern] of cases) assert.throws(() => resolveInferSettings(flags, {}), usage(pattern), pattern.source);
  });
});

describe('createBackbone', () => {
  const openai: BackboneSettings = { kind: 'openai', model: 'gpt-4o-mini', baseUrl: undefined, apiKey: undefined, shape: 'tools' };

  test('openai needs --model, and a key unless a --base-url is given (then EMPTY is sent, as vLLM expects)', () => {
    assert.throws(() => createBackbone({ ...openai, model: undefined }), usage(/--backbone openai needs --model/));
    assert.throws(() => createBackbone(openai), usage(/OPENAI_API_KEY.*--base-url/));
    assert.equal(createBackbone({ ...openai, apiKey: 'sk-test' }).kind, 'openai');
    assert.equal(createBackbone({ ...openai, baseUrl: 'http://127.0.0.1:1/v1' }).shape, 'tools');
  });

  test('a --base-url must be a URL without credentials (fetch refuses them and would quote them)', () => {
    assert.throws(() => createBackbone({ ...openai, baseUrl: 'http://user:secret@127.0.0.1:1/v1' }), (error: Error) => {
      assert.match(error.message, /must not carry a user name or password/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
    assert.throws(() => createBackbone({ ...openai, baseUrl: 'localhost:8000' }), usage(/is not an http\(s\) URL/));
  });

  test('toolllama needs --model and --base-url', () => {
    const toolllama: BackboneSettings = { ...openai, kind: 'toolllama', shape: 'functions' };
    assert.throws(() => createBackbone({ ...toolllama, model: '' }), usage(/--backbone toolllama needs --model/));
    assert.throws(() => createBackbone(toolllama), usage(/--backbone toolllama needs --base-url/));
    const backbone = createBackbone({ ...toolllama, baseUrl: 'http://127.0.0.1:1/v1', requestsPerMinute: 60, concurrency: 2 });
    assert.deepEqual([backbone.kind, backbone.shape], ['toolllama', 'functions']);
  });
});

describe('the end-of-run summary', () => {
  const summary: InferSummary = { done: 12, skipped: 5, failed: 1, win: 8, give_up: 3, llm_calls: 143, total_tokens: 1_234_567, cost: 0.4213, seconds: 192, stoppedBy: 'completed', unfinished: 0 };

  test('one line, then why the run stopped and where the failures are', () => {
    assert.equal(
      formatSummary(summary, { out: 'answers', failuresFile: 'answers/infer-failures.jsonl' }),
      'infer: 12 answered (8 pass, 3 give up), 5 already answered, 1 failed; 143 LLM calls, 1.2M tokens, $0.4213; 3m12s -> answers\n' +
        'failures are listed in answers/infer-failures.jsonl',
    );
    assert.match(formatSummary({ ...summary, failed: 0, stoppedBy: 'max-cost' }, { out: '-', maxCost: 0.4 }), /; 3m12s\nstopped starting queries at --max-cost \$0\.4000/);
    assert.match(formatSummary({ ...summary, failed: 0, stoppedBy: 'interrupted', unfinished: 2 }, { out: 'a' }), /\n2 queries in progress were stopped and not written; run again to resume$/);
  });

  test('counts, dollars and durations', () => {
    assert.deepEqual([formatCount(950), formatCount(12_345), formatCount(4_500_000)], ['950', '12.3k', '4.5M']);
    assert.deepEqual([formatCost(0), formatCost(0.01234), formatCost(12.345)], ['$0.0000', '$0.0123', '$12.35']);
    assert.deepEqual([formatDuration(42.4), formatDuration(192), formatDuration(7500)], ['42s', '3m12s', '2h05m']);
  });
});
