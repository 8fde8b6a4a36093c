import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { shapeToolEnv } from '../../src/env/observation.js';
import { createRecorder, type CallRecorder } from '../../src/env/recording.js';
import { createReplayBackend } from '../../src/env/replay-env.js';
import { TOOL_STATUS } from '../../src/env/status.js';
import type { ApiRef, BackendAnswer, ToolBackend, ToolCallResult, ToolEnv } from '../../src/env/tool-call.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { orderedKeys, type PyObject } from '../../src/util/py-value.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-recording-'));
after(() => rmSync(root, { recursive: true, force: true }));
let directories = 0;
const freshDirectory = (): string => join(root, `run-${++directories}`);

const LOVE: ApiRef = { category: 'Social', tool: 'olato_quotes', api: 'love_quote' };
const RANDOM: ApiRef = { category: 'Social', tool: 'olato_quotes', api: 'random_quote' };

/** Answers calls from a script, in order; a call past its end fails the test. */
class ScriptedBackend implements ToolBackend {
  readonly calls: { api: ApiRef; args: string }[] = [];
  constructor(private readonly script: readonly BackendAnswer[]) {}
  async answer(api: ApiRef, args: string): Promise<BackendAnswer> {
    this.calls.push({ api, args });
    return this.script[this.calls.length - 1] ?? assert.fail(`unexpected call #${this.calls.length}`);
  }
}

const reply = (json: string, source: BackendAnswer['source'] = 'service'): BackendAnswer => ({ kind: 'reply', reply: pyJsonParse(json), source });
const noSleep = async (): Promise<void> => {};

function recordingEnv(backend: ToolBackend, recorder: CallRecorder, maxObservationLength: number): ToolEnv {
  return shapeToolEnv(backend, { maxObservationLength, rateLimitPauseMs: 0, sleep: noSleep, recorder });
}

function replayEnv(sources: readonly string[], maxObservationLength: number, warnings: string[] = []): ToolEnv {
  const backend = createReplayBackend(sources, { warn: (message) => warnings.push(message) });
  return shapeToolEnv(backend, { maxObservationLength, rateLimitPauseMs: 0, sleep: noSleep });
}

const recordingFile = (directory: string, time: number): string => join(directory, `calls-${process.pid}-${time}.jsonl`);
const linesOf = (file: string): string[] => readFileSync(file, 'utf8').split('\n').slice(0, -1);

describe('createRecorder', () => {
  test('writes each call as one ASCII pyjson line with the call, its observation, status and source, and the reply when there was one', async () => {
    const directory = freshDirectory();
    const backend = new ScriptedBackend([
      reply('{"error": "", "response": {"text": "café ☕ 😀", "score": 1.0}}', 'cache'),
      { kind: 'failure', failure: { kind: 'timeout' }, source: 'service' },
      { kind: 'recorded', observation: 'seen before ☕', status: TOOL_STATUS.tooManyRequests, source: 'recorded' },
    ]);
    const env = recordingEnv(backend, createRecorder(directory, () => 1000), 50);
    await env.call(LOVE, '{"q": "café"}');
    await env.call(LOVE, '');
    await env.call(RANDOM, '{}');
    await env.close();

    assert.deepEqual(readdirSync(directory), [`calls-${process.pid}-1000.jsonl`]);
    const lines = linesOf(recordingFile(directory, 1000));
    assert.equal(lines.length, 3);
    for (const line of lines) assert.match(line, /^[\x20-\x7e]+$/);
    // Python's json.dumps of the same line (ensure_ascii, default separators).
    assert.equal(
      lines[0],
      '{"v": 1, "category": "Social", "tool": "olato_quotes", "api": "love_quote", "args": "{\\"q\\": \\"caf\\u00e9\\"}", "source": "cache", "status": 0, ' +
        '"observation": "{\\"error\\": \\"\\", \\"response\\": {\\"text\\": \\"caf\\\\u00e9 \\\\u26...", ' +
        '"reply": {"error": "", "response": {"text": "caf\\u00e9 \\u2615 \\ud83d\\ude00", "score": 1.0}}}',
    );
    assert.equal(
      lines[1],
      '{"v": 1, "category": "Social", "tool": "olato_quotes", "api": "love_quote", "args": "", "source": "service", "status": 5, "observation": "{\\"error\\": \\"Timeout error...\\", \\"response\\": \\"\\"}"}',
    );
    const third = pyJsonParse(lines[2] as string) as PyObject;
    assert.deepEqual(orderedKeys(third), ['v', 'category', 'tool', 'api', 'args', 'source', 'status', 'observation']);
    assert.deepEqual(third, { v: 1, category: 'Social', tool: 'olato_quotes', api: 'random_quote', args: '{}', source: 'recorded', status: 9, observation: 'seen before ☕' });
  });

  test('creates the directory it records into', async () => {
    const directory = join(freshDirectory(), 'nested', 'deeper');
    const recorder = createRecorder(directory, () => 5);
    await recorder.close();
    assert.deepEqual(readdirSync(directory), [`calls-${process.pid}-5.jsonl`]);
  });

  test('two processes recording into one directory write separate files, each with only its own calls', async () => {
    const directory = freshDirectory();
    const first = recordingEnv(new ScriptedBackend([reply('{"error": "", "response": "one"}'), reply('{"error": "", "response": "three"}')]), createRecorder(directory, () => 1000), 1024);
    const second = recordingEnv(new ScriptedBackend([reply('{"error": "", "response": "two"}')]), createRecorder(directory, () => 2000), 1024);
    await first.call(LOVE, '{"n": 1}');
    await second.call(LOVE, '{"n": 2}');
    await first.call(RANDOM, '{"n": 3}');
    await Promise.all([first.close(), second.close()]);

    assert.deepEqual(readdirSync(directory).sort(), [`calls-${process.pid}-1000.jsonl`, `calls-${process.pid}-2000.jsonl`]);
    const argsIn = (time: number) => linesOf(recordingFile(directory, time)).map((line) => (pyJsonParse(line) as PyObject).args);
    assert.deepEqual(argsIn(1000), ['{"n": 1}', '{"n": 3}']);
    assert.deepEqual(argsIn(2000), ['{"n": 2}']);

    const replay = replayEnv([directory], 1024);
    assert.equal((await replay.call(LOVE, '{"n": 2}')).observation, '{"error": "", "response": "two"}');
    assert.equal((await replay.call(RANDOM, '{"n": 3}')).observation, '{"error": "", "response": "three"}');
    assert.equal((await replay.call(LOVE, '{"n": 1}')).observation, '{"error": "", "response": "one"}');
  });

  test('recording after close throws; closing twice does not', async () => {
    const recorder = createRecorder(freshDirectory(), () => 1);
    const env = recordingEnv(new ScriptedBackend([]), recorder, 1024);
    await env.close();
    await recorder.close();
    const call = { api: LOVE, args: '{}', answer: reply('{"error": "", "response": ""}'), result: { observation: '', status: TOOL_STATUS.ok, source: 'service' } as const };
    assert.throws(() => recorder.record(call), Error);
  });
});

describe('replaying a recording', () => {
  // One run: a call repeated with different answers, a truncated reply, a transport failure,
  // a status-7 reply and an observation passed through as recorded.
  const SCRIPT: readonly (readonly [ApiRef, string, BackendAnswer])[] = [
    [LOVE, '{"q": "a"}', reply('{"error": "Too many requests error...", "response": ""}')],
    [LOVE, '{"q": "a"}', reply('{"error": "", "response": "Love is patient — “love” ☕ 😀, and 1.0 is 1.0"}')],
    [RANDOM, '', { kind: 'failure', failure: { kind: 'http-status', status: 500 }, source: 'service' }],
    [LOVE, '{"q": "a"}', reply('{"error": "", "response": {"quotes": ["second", 2.0, null, true]}}')],
    [RANDOM, '{}', reply('{"error": "Unauthorized error...", "response": ""}')],
    [LOVE, '{"q":"a"}', { kind: 'recorded', observation: 'verbatim ☕\n', status: TOOL_STATUS.ok, source: 'recorded' }],
  ];

  async function record(directory: string): Promise<ToolCallResult[]> {
    const env = recordingEnv(new ScriptedBackend(SCRIPT.map(([, , answer]) => answer)), createRecorder(directory, () => 1000), 40);
    const results: ToolCallResult[] = [];
    for (const [api, args] of SCRIPT) results.push(await env.call(api, args));
    await env.close();
    return results;
  }

  test('gives back the recorded observations and statuses bit for bit, in order for a repeated call, the last repeating', async () => {
    const directory = freshDirectory();
    const recorded = await record(directory);
    assert.deepEqual(
      recorded.map((result) => result.status),
      [TOOL_STATUS.tooManyRequests, TOOL_STATUS.ok, TOOL_STATUS.requestFailed, TOOL_STATUS.ok, TOOL_STATUS.unauthorized, TOOL_STATUS.ok],
    );
    assert.ok(recorded[1]?.observation.endsWith('...'), 'the recorded observation was truncated');

    const warnings: string[] = [];
    const replay = replayEnv([directory], 5, warnings); // another max-observation-length changes nothing
    const replayed: ToolCallResult[] = [];
    for (const [api, args] of SCRIPT) replayed.push(await replay.call(api, args));
    assert.deepEqual(
      replayed,
      recorded.map(({ observation, status }) => ({ observation, status, source: 'recorded' })),
    );
    assert.deepEqual(await replay.call(LOVE, '{"q": "a"}'), { observation: recorded[3]?.observation, status: TOOL_STATUS.ok, source: 'recorded' });
    assert.deepEqual(await replay.call(LOVE, '{"q": "a"}'), { observation: recorded[3]?.observation, status: TOOL_STATUS.ok, source: 'recorded' });
    assert.deepEqual(warnings, []);
  });

  test('a last line cut short by a crash is skipped with a warning and the rest still replays', async () => {
    const directory = freshDirectory();
    const recorded = await record(directory);
    const file = recordingFile(directory, 1000);
    const text = readFileSync(file, 'utf8');
    const lastLine = text.lastIndexOf('\n', text.length - 2) + 1;
    writeFileSync(file, text.slice(0, lastLine + Math.floor((text.length - lastLine) / 2)));

    const warnings: string[] = [];
    const replay = replayEnv([directory], 1024, warnings);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.includes(`${file}:${SCRIPT.length}`), warnings[0]);
    for (const [index, [api, args]] of SCRIPT.slice(0, -1).entries()) {
      const result = await replay.call(api, args);
      assert.deepEqual({ observation: result.observation, status: result.status }, { observation: recorded[index]?.observation, status: recorded[index]?.status });
    }
    const lost = await replay.call(LOVE, '{"q":"a"}');
    assert.deepEqual({ status: lost.status, source: lost.source }, { status: TOOL_STATUS.requestFailed, source: 'environment' });
  });

  test('a line that is JSON but not a recorded call is skipped with a warning', async () => {
    const directory = freshDirectory();
    const file = join(directory, 'calls-1-1.jsonl');
    await record(directory);
    writeFileSync(file, '{"v": 1, "category": "Social", "tool": "olato_quotes", "api": "love_quote", "args": "{}", "status": 0}\n');
    const warnings: string[] = [];
    const replay = replayEnv([directory], 1024, warnings);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.includes(`${file}:1`), warnings[0]);
    assert.equal((await replay.call(LOVE, '{}')).status, TOOL_STATUS.requestFailed);
  });
});
