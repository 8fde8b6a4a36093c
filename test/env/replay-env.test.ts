import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { shapeToolEnv } from '../../src/env/observation.js';
import { buildReplayIndex, createReplayBackend } from '../../src/env/replay-env.js';
import { TOOL_STATUS } from '../../src/env/status.js';
import type { ApiRef, ToolCallResult, ToolEnv } from '../../src/env/tool-call.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import type { PyObject, PyValue } from '../../src/util/py-value.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-replay-'));
after(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const freshDirectory = (): string => join(root, `case-${++folders}`);

function write(file: string, text: string): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

const LOVE: ApiRef = { category: 'Social', tool: 'olato_quotes', api: 'love_quote' };
const RANDOM: ApiRef = { category: 'Social', tool: 'olato_quotes', api: 'random_quote' };
const QUOTE_OF_THE_DAY: ApiRef = { category: 'Entertainment', tool: 'quotes_api', api: 'quote_of_the_day' };
const noSleep = async (): Promise<void> => {};

function replayEnv(sources: readonly string[], options: { maxObservationLength?: number; warnings?: string[] } = {}): ToolEnv {
  const warnings = options.warnings ?? [];
  const backend = createReplayBackend(sources, { warn: (message) => warnings.push(message) });
  return shapeToolEnv(backend, { maxObservationLength: options.maxObservationLength ?? 1024, rateLimitPauseMs: 0, sleep: noSleep });
}

const observed = (response: string, error = ''): string => pyJsonDumps({ error, response });

// ---------------------------------------------------------------------------------------------
// Answer files in the upstream shape (spec formats.md §3.1–3.2)

type NodeType = 'Action Input' | 'Thought' | 'Action';

function node(nodeType: NodeType, description: string, extra: { observation?: string; code?: number } = {}, children: PyObject[] = []): PyObject {
  return {
    is_terminal: false,
    pruned: false,
    finished: false,
    depth: 0,
    node_type: nodeType,
    description,
    Elo: 1000.5,
    ...(extra.observation === undefined ? {} : { observation: extra.observation }),
    ...(extra.code === undefined ? {} : { observation_code: extra.code }),
    child_count: children.length,
    expand_num: 0,
    ...(nodeType === 'Action Input' ? { io_state: {} } : {}),
    children,
  };
}

/** Thought → Action → Action Input, the Action Input's children below it. */
function step(name: string, args: string, observation: string, code: number, children: PyObject[] = []): PyObject {
  return node('Thought', `I call ${name}`, {}, [node('Action', name, {}, [node('Action Input', args, { observation, code }, children)])]);
}

const FINISH_ARGS = '{\n  "return_type": "give_answer",\n  "final_answer": "done"\n}';
const FINISH_OBSERVATION = '{"response":"successfully giving the final answer."}';
const NO_SUCH_FUNCTION = observed('', 'No such function name: hallucinated_for_olato_quotes');

/**
 * A DFS tree with two branches. In creation order (preorder) love_quote({"q": "a"}) answers
 * first, second, third; the Finish call and the hallucinated function are not tool calls.
 */
function dfsAnswer(): PyObject {
  const finish = step('Finish', FINISH_ARGS, FINISH_OBSERVATION, TOOL_STATUS.finalAnswer);
  const firstBranch = step('love_quote_for_olato_quotes', '{"q": "a"}', observed('first'), TOOL_STATUS.ok, [
    step('love_quote_for_olato_quotes', '{"q": "a"}', observed('second', 'API not working error...'), TOOL_STATUS.apiNotWorking, [finish]),
  ]);
  const secondBranch = step('hallucinated_for_olato_quotes', '{}', NO_SUCH_FUNCTION, TOOL_STATUS.noSuchFunction, [
    step('random_quote_for_olato_quotes', '{}', observed('', 'request invalid, data error. status_code=500'), TOOL_STATUS.requestFailed, [
      step('love_quote_for_olato_quotes', '{"q": "a"}', observed('third'), TOOL_STATUS.ok),
    ]),
  ]);
  const root = node('Action Input', '', {}, [firstBranch, secondBranch]);
  return {
    win: true,
    tree: { size: 17, max_length: 11, tree: root },
    forward_args: { single_chain_max_step: 12, tree_beam_size: 2, max_query_count: 200, answer: 1, with_filter: false },
    compare_candidates: [],
    answer_generation: { valid_data: true, query_count: 5, total_tokens: 100, final_answer: FINISH_ARGS, finish_type: 'give_answer', function: [], chain: [], train_messages: [], query: 'q' },
  };
}

/** Flat chain records of one CoT try. */
function chain(...steps: PyObject[]): PyObject[] {
  const flat: PyObject[] = [];
  const visit = (item: PyObject): void => {
    const { children, ...record } = item as PyObject & { children: PyObject[] };
    flat.push(record);
    for (const child of children) visit(child);
  };
  for (const item of steps) visit(item);
  return flat;
}

/** A CoT answer with two tries that call quote_of_the_day({"day": 1}) once each. */
function cotAnswer(): PyObject {
  return {
    win: true,
    try_count: 2,
    trys: [
      { chain: chain(step('quote_of_the_day_for_quotes_api', '{"day": 1}', observed('cot-1'), TOOL_STATUS.ok)), win: false },
      {
        chain: chain(step('quote_of_the_day_for_quotes_api', '{"day": 1}', observed('cot-2'), TOOL_STATUS.ok), step('Finish', FINISH_ARGS, FINISH_OBSERVATION, TOOL_STATUS.finalAnswer)),
        win: false,
      },
    ],
    compare_candidates: [],
    forward_args: { single_chain_max_step: 12, pass_at: 2, answer: 1 },
    answer_generation: { valid_data: true, final_answer: FINISH_ARGS, function: [], query_count: 2, total_tokens: 10, train_messages: [], chain: [], query: 'q' },
  };
}

const writeAnswer = (file: string, answer: PyObject): string => write(file, pyJsonDumps(answer, { indent: 2 }));

/** A recording line as `--record` writes it (recording.ts). */
function recordingLine(api: ApiRef, args: string, observation: string, status: number): string {
  return `${pyJsonDumps({ v: 1, category: api.category, tool: api.tool, api: api.api, args, source: 'service', status, observation })}\n`;
}

/** A StableToolBench cache holding one API's file (spec formats.md §13.1). */
function writeCache(directory: string, api: ApiRef, entries: Record<string, PyValue>): string {
  write(join(directory, api.category, `${api.tool}_for_${api.category}`, `${api.api}.json`), pyJsonDumps(entries, { indent: 4 }));
  return directory;
}

async function callAll(env: ToolEnv, calls: readonly (readonly [ApiRef, string])[]): Promise<ToolCallResult[]> {
  const results: ToolCallResult[] = [];
  for (const [api, args] of calls) results.push(await env.call(api, args));
  return results;
}

function assertMiss(result: ToolCallResult, name: string): void {
  assert.equal(result.status, TOOL_STATUS.requestFailed);
  assert.equal(result.source, 'environment');
  const body = pyJsonParse(result.observation) as PyObject;
  assert.equal(body.response, '');
  assert.ok(typeof body.error === 'string' && body.error.includes(name), result.observation);
}

// ---------------------------------------------------------------------------------------------

describe('createReplayBackend: answer trees', () => {
  test('a DFS file replays its calls in the order the search made them, the last repeating, under any category', async () => {
    const file = writeAnswer(join(freshDirectory(), '588_DFS_woFilter_w2.json'), dfsAnswer());
    const env = replayEnv([file], { maxObservationLength: 3 });
    const anyCategory = { ...LOVE, category: 'Anything' };
    assert.deepEqual(await callAll(env, [[LOVE, '{"q": "a"}'], [anyCategory, '{"q": "a"}'], [LOVE, '{"q": "a"}'], [LOVE, '{"q": "a"}'], [RANDOM, '{}']]), [
      { observation: observed('first'), status: TOOL_STATUS.ok, source: 'recorded' },
      { observation: observed('second', 'API not working error...'), status: TOOL_STATUS.apiNotWorking, source: 'recorded' },
      { observation: observed('third'), status: TOOL_STATUS.ok, source: 'recorded' },
      { observation: observed('third'), status: TOOL_STATUS.ok, source: 'recorded' },
      { observation: observed('', 'request invalid, data error. status_code=500'), status: TOOL_STATUS.requestFailed, source: 'recorded' },
    ]);
  });

  test('a CoT file replays each try in order', async () => {
    const file = writeAnswer(join(freshDirectory(), '588_CoT@2.json'), cotAnswer());
    const env = replayEnv([file]);
    const results = await callAll(env, [[QUOTE_OF_THE_DAY, '{"day": 1}'], [QUOTE_OF_THE_DAY, '{"day": 1}'], [QUOTE_OF_THE_DAY, '{"day": 1}']]);
    assert.deepEqual(
      results.map((result) => result.observation),
      [observed('cot-1'), observed('cot-2'), observed('cot-2')],
    );
  });

  test('the arguments text must match exactly', async () => {
    const file = writeAnswer(join(freshDirectory(), '1_CoT@1.json'), cotAnswer());
    assertMiss(await replayEnv([file]).call(QUOTE_OF_THE_DAY, '{"day":1}'), 'quote_of_the_day_for_quotes_api');
  });

  test('Finish calls and calls to functions that do not exist (status 1) are not indexed', async () => {
    const file = writeAnswer(join(freshDirectory(), '588_DFS_woFilter_w2.json'), dfsAnswer());
    const index = buildReplayIndex([file], () => assert.fail('no warning expected'));
    assert.equal(index.sources.length, 1);
    assert.deepEqual(index.counts, { recordings: 0, trees: 1, caches: 0, calls: 4 });
    assertMiss(await replayEnv([file]).call({ ...LOVE, api: 'hallucinated' }, '{}'), 'hallucinated_for_olato_quotes');
  });

  test('a function name upstream cut to its last 64 characters is found from the full API and tool names', async () => {
    const api: ApiRef = { category: 'Data', tool: 'some_tool_with_a_long_name_too', api: 'get_a_very_long_api_name_that_goes_on_and_on' };
    const answer = cotAnswer();
    const recorded = '_api_name_that_goes_on_and_on_for_some_tool_with_a_long_name_too';
    const file = writeAnswer(join(freshDirectory(), '2_CoT@1.json'), { ...answer, trys: [{ chain: chain(step(recorded, '{}', observed('long'), TOOL_STATUS.ok)), win: false }] });
    assert.equal((await replayEnv([file]).call(api, '{}')).observation, observed('long'));
  });

  test('a directory is searched recursively for answer files; other JSON files are ignored and broken ones reported', async () => {
    const directory = freshDirectory();
    writeAnswer(join(directory, 'G1', '588_DFS_woFilter_w2.json'), dfsAnswer());
    writeAnswer(join(directory, 'G1', 'cot', '588_CoT@2.json'), cotAnswer());
    write(join(directory, 'converted.json'), pyJsonDumps({ 588: { query: 'q', available_tools: [], answer: { method: 'CoT@1' } } }));
    write(join(directory, 'processed.json'), pyJsonDumps([{ id: 'Step 2: q', conversations: [] }]));
    write(join(directory, 'G1', 'notes.txt'), 'not JSON at all');
    const broken = write(join(directory, 'G1', 'broken.json'), '{"tree": ');

    const warnings: string[] = [];
    const index = buildReplayIndex([directory], (message) => warnings.push(message));
    assert.deepEqual(index.counts, { recordings: 0, trees: 2, caches: 0, calls: 6 });
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.includes(broken), warnings[0]);

    const env = replayEnv([directory]);
    assert.equal((await env.call(LOVE, '{"q": "a"}')).observation, observed('first'));
    assert.equal((await env.call(QUOTE_OF_THE_DAY, '{"day": 1}')).observation, observed('cot-1'));
  });
});

describe('createReplayBackend: recordings', () => {
  const lines = recordingLine(LOVE, '{"q": "a"}', observed('rec-1'), TOOL_STATUS.ok) + recordingLine(LOVE, '{"q": "a"}', observed('rec-2', 'Message error...'), TOOL_STATUS.messageError);

  test('a recording directory answers its calls in order, the last repeating', async () => {
    const directory = freshDirectory();
    write(join(directory, 'calls-1-1000.jsonl'), lines);
    const results = await callAll(replayEnv([directory]), [[LOVE, '{"q": "a"}'], [LOVE, '{"q": "a"}'], [LOVE, '{"q": "a"}']]);
    assert.deepEqual(results, [
      { observation: observed('rec-1'), status: TOOL_STATUS.ok, source: 'recorded' },
      { observation: observed('rec-2', 'Message error...'), status: TOOL_STATUS.messageError, source: 'recorded' },
      { observation: observed('rec-2', 'Message error...'), status: TOOL_STATUS.messageError, source: 'recorded' },
    ]);
  });

  test('a .jsonl file can be named directly', async () => {
    const file = write(join(freshDirectory(), 'session.jsonl'), lines);
    assert.equal((await replayEnv([file]).call(LOVE, '{"q": "a"}')).observation, observed('rec-1'));
  });

  test('a recorded call answers only the same category, tool and API', async () => {
    const file = write(join(freshDirectory(), 'session.jsonl'), lines);
    const env = replayEnv([file]);
    assertMiss(await env.call({ ...LOVE, category: 'Other' }, '{"q": "a"}'), 'love_quote_for_olato_quotes');
    assertMiss(await env.call({ ...LOVE, tool: 'other_quotes' }, '{"q": "a"}'), 'love_quote_for_other_quotes');
  });
});

describe('createReplayBackend: a StableToolBench response cache', () => {
  const KEY = "{'q': 'x', 'n': 1.0}";
  const cacheWith = (reply: string): string =>
    writeCache(freshDirectory(), LOVE, {
      [KEY]: pyJsonParse(reply),
      '{}': { error: 'Unauthorized error...', response: '' },
    });
  const REPLY = '{"error": "", "response": "café ☕ — a quote that is long enough to be cut"}';

  test('a hit is the stored reply shaped like any other: pyjson, truncated, with its status', async () => {
    const cache = cacheWith(REPLY);
    // Python: json.dumps(reply), and json.dumps(reply)[:30] + "..."
    const full = '{"error": "", "response": "caf\\u00e9 \\u2615 \\u2014 a quote that is long enough to be cut"}';
    assert.deepEqual(await replayEnv([cache]).call(LOVE, '{"q": "x", "n": 1.0}'), { observation: full, status: TOOL_STATUS.ok, source: 'recorded' });
    assert.deepEqual(await replayEnv([cache], { maxObservationLength: 30 }).call(LOVE, '{\n  "q": "x",\n  "n": 1.0\n}'), {
      observation: '{"error": "", "response": "caf...',
      status: TOOL_STATUS.ok,
      source: 'recorded',
    });
    assert.deepEqual(await replayEnv([cache]).call(LOVE, ''), { observation: observed('', 'Unauthorized error...'), status: TOOL_STATUS.unauthorized, source: 'recorded' });
  });

  test('other arguments, arguments that are not JSON and other APIs miss', async () => {
    const env = replayEnv([cacheWith(REPLY)]);
    assertMiss(await env.call(LOVE, '{"q": "x", "n": 1}'), 'love_quote_for_olato_quotes');
    assertMiss(await env.call(LOVE, '{"q": '), 'love_quote_for_olato_quotes');
    assertMiss(await env.call(RANDOM, '{}'), 'random_quote_for_olato_quotes');
  });
});

describe('createReplayBackend: several sources', () => {
  const recordingSaying = (text: string): string => write(join(freshDirectory(), 'calls.jsonl'), recordingLine(LOVE, '{"q": "x", "n": 1.0}', observed(text), TOOL_STATUS.ok));
  const treeSaying = (text: string): string => {
    const answer = cotAnswer();
    return writeAnswer(join(freshDirectory(), '1_CoT@1.json'), { ...answer, trys: [{ chain: chain(step('love_quote_for_olato_quotes', '{"q": "x", "n": 1.0}', observed(text), TOOL_STATUS.ok)), win: false }] });
  };
  const cacheSaying = (text: string): string => writeCache(freshDirectory(), LOVE, { "{'q': 'x', 'n': 1.0}": { error: '', response: text } });
  const firstAnswer = async (sources: readonly string[]): Promise<string> => (await replayEnv(sources).call(LOVE, '{"q": "x", "n": 1.0}')).observation;

  for (const [kind, make] of [
    ['recordings', recordingSaying],
    ['answer trees', treeSaying],
    ['caches', cacheSaying],
  ] as const) {
    test(`of two ${kind} with the same call, the first given answers`, async () => {
      const [a, b] = [make('A'), make('B')];
      assert.equal(await firstAnswer([a, b]), observed('A'));
      assert.equal(await firstAnswer([b, a]), observed('B'));
    });
  }

  for (const [first, second, makeFirst, makeSecond] of [
    ['an answer tree', 'a recording', treeSaying, recordingSaying],
    ['a cache', 'a recording', cacheSaying, recordingSaying],
    ['a cache', 'an answer tree', cacheSaying, treeSaying],
  ] as const) {
    test(`the first given answers: ${second} after ${first}`, async () => {
      assert.equal(await firstAnswer([makeFirst('first'), makeSecond('second')]), observed('first'));
    });
  }

  test('the first given answers: a recording before an answer tree before a cache', async () => {
    assert.equal(await firstAnswer([recordingSaying('first'), treeSaying('second'), cacheSaying('third')]), observed('first'));
  });
});

describe('createReplayBackend: misses and bad sources', () => {
  test('a call nothing recorded is status 12 naming the function, answered by the environment', async () => {
    const file = write(join(freshDirectory(), 'calls.jsonl'), recordingLine(LOVE, '{}', observed('x'), TOOL_STATUS.ok));
    const result = await replayEnv([file]).call(RANDOM, '{"q": "never"}');
    assertMiss(result, 'random_quote_for_olato_quotes');
  });

  test('no sources is a usage error (exit code 2)', () => {
    assert.throws(
      () => createReplayBackend([], { warn: () => {} }),
      (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && error.code === 'usage.invalid',
    );
  });

  test('a source that does not exist is a usage error (exit code 2)', () => {
    assert.throws(
      () => createReplayBackend([join(root, 'does-not-exist')], { warn: () => {} }),
      (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && error.code === 'usage.invalid',
    );
  });
});
