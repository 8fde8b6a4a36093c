/**
 * `toolbench eval pass-rate` end to end: the CLI in-process, the judge a loopback fake of the
 * OpenAI API (spec tooleval.md §3–§5, formats.md §4, §5, §10, §11, prompts.md §2).
 *
 * Fixture fixtures/eval/passrate (model fake_dfs, set G1_instruction), test ids 101–106:
 *   101 Finish final step, a good final answer (with a non-ASCII character)
 *   102 last step not Finish: never judged
 *   103 Finish with an empty final answer: no answer call (toolbench: the solvability call only)
 *   104 Finish with give_up_and_restart in the final answer: as 103
 *   105 unreadable (`answer` missing): counted as missing
 *   106 no answer at all: counted as missing
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { seededUniform } from '../../src/util/seeded-random.js';
import { runToolbench, type CliResult } from '../helpers/cli.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply, type RecordedRequest } from '../helpers/fake-openai.js';
import { SKIP_WITHOUT_DATA, dataPath, fixture } from '../helpers/paths.js';

const CONVERTED = fixture('eval', 'passrate', 'converted');
const TEST_IDS = fixture('eval', 'passrate', 'test_ids');
const MODEL = 'fake_dfs';
const SET = 'G1_instruction';
const KEY = 'sk-test-key-0123456789abcdef';

const QUERY_101 = 'What is the weather in Paris? I want a café terrace.';
const FINAL_101 = '{\n  "return_type": "give_answer",\n  "final_answer": "It is sunny in Paris, café weather."\n}';
/** pyjson (ensure_ascii) of {"query", "available_tools"} of 101, as Python's json.dumps writes it. */
const TASK_101 =
  '{"query": "What is the weather in Paris? I want a caf\\u00e9 terrace.", "available_tools": [{"name": "get_weather_for_weatherapi", "description": "Current weather of a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "optional": []}}, {"name": "Finish", "description": "Finish the task.", "parameters": {"type": "object", "properties": {}, "required": []}}]}';
/** pyjson of the whole `answer` object of 101, as Python's json.dumps writes it. */
const ANSWER_101 =
  '{"method": "DFS_woFilter_w2", "total_steps": 5, "final_answer": "{\\n  \\"return_type\\": \\"give_answer\\",\\n  \\"final_answer\\": \\"It is sunny in Paris, caf\\u00e9 weather.\\"\\n}", "answer_details": [{"role": "system", "message": "", "next": [{"role": "user", "message": "", "next": [{"role": "tool", "message": {"name": "get_weather_for_weatherapi", "arguments": "{\\"city\\": \\"Paris\\"}", "response": "{\\"error\\": \\"\\", \\"response\\": \\"sunny\\"}"}, "next": [{"role": "assistant", "message": "Paris is sunny.", "next": [{"role": "tool", "message": {"name": "Finish", "arguments": "{\\n  \\"return_type\\": \\"give_answer\\",\\n  \\"final_answer\\": \\"It is sunny in Paris, caf\\u00e9 weather.\\"\\n}", "response": ""}, "next": []}]}]}]}]}]}';
const STEPS_101 =
  `Step 1: {'name': 'get_weather_for_weatherapi', 'arguments': '{"city": "Paris"}', 'response': '{"error": "", "response": "sunny"}'}\n` +
  `Step 2: {'name': 'Finish', 'arguments': '{\\n  "return_type": "give_answer",\\n  "final_answer": "It is sunny in Paris, café weather."\\n}', 'response': ''}`;
const FINAL_STEP_101 = `Final step: {'name': 'Finish', 'arguments': '{\\n  "return_type": "give_answer",\\n  "final_answer": "It is sunny in Paris, café weather."\\n}', 'response': ''}`;

/** prompts.md §2.1b, parsed prompts of tooleval_gpt-3.5-turbo_default (JSON string literals). */
const PROMPTS = {
  check_answer_status:
    '\nGiving the query and answer, you need give `answer_status` of the answer by following rules:\n1. If the answer is a sorry message or not a positive/straight response for the given query, return "Unsolved".\n2. If the answer is a positive/straight response for the given query, you have to further check.\n2.1 If the answer is not sufficient to determine whether the solve the query or not, return "Unsure".\n2.2 If you are confident that the answer is sufficient to determine whether the solve the query or not, return "Solved" or "Unsolved".\n\nQuery:\n{query}\nAnswer:\n{answer}\n\nNow give your reason in "content" and `answer_status` of JSON to `check_answer_status`.\n',
  parse_answer_status:
    '\nGiving the query and the correspond execution detail of an answer, you need give `answer_status` of the answer by following rules:\n1. If all \'tool\' nodes\' message indicate that there are errors happened, return "Unsolved"\n2. If you find the information in the "final_answer" is not true/valid according to the messages in \'tool\' nodes, return "Unsolved"\n3. If you are unable to verify the authenticity and validity of the information, return "Unsure"\n4. If there are \'tool\' node in the chain contains successful func calling and those calling indeed solve the query, return "Solved"\n\nQuery:\n{query}\nAnswer:\n{answer}\n\nNow you are requested to give reason in "content" and `answer_status` of JSON to `parse_answer_status`.\n',
  check_task_solvable:
    '\nPlease check whether the given task solvable with following rules:\n1. If the `query` provide invalid information (e.g. invalid email address or phone number), return "Unsolvable"\n2. If the `query` needs more information to solve (e.g. the target restaurant name in a navigation task), return "Unsolvable"\n3. If you are unable to draw a conclusion, return "Unsure"\n4. If the currently `available_tools` are enough to solve the query, return "Solvable"\n\nTask:\n{task}\n\nNow give your reason in "content" and `task_status` of JSON to `check_task_solvable`.\n',
} as const;

const ANSWER_ENUM = ['Unsure', 'Unsolved', 'Solved'];
const TASK_ENUM = ['Unsure', 'Unsolvable', 'Solvable'];
const REASON = { type: 'string', description: 'explain your answer.' };

const TOOLBENCH_KEYS = ['passed', 'failed', 'query', 'task_solvable', 'tool_names', 'answer_steps', 'final_step', 'is_solved', 'reason', 'not_hallucinate'];
const STABLE_KEYS = ['query', 'tool_names', 'answer_steps', 'final_step', 'is_solved'];
const TOOLBENCH_HEADER = ['query', 'solvable', 'available_tools', 'model_intermediate_steps', 'model_final_step', 'model', 'query_id', 'is_solved', 'pass_rate_label', 'reason', 'not_hallucinate'];
const STABLE_HEADER = ['query', 'available_tools', 'model_intermediate_steps', 'model_final_step', 'model', 'query_id', 'is_solved'];

// ---------------------------------------------------------------------------------------------
// helpers

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolbench-pass-rate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Which judge function a request asks for, whatever its shape. */
function askedFunction(body: any): string {
  return body.functions?.[0]?.name ?? body.tool_choice?.function?.name;
}

function promptOf(body: any): string {
  return body.messages[0].content;
}

/** Which test id a prompt is about. */
function queryOf(body: any): string {
  const prompt = promptOf(body);
  for (const [city, qid] of [['Paris', '101'], ['Rome', '102'], ['Oslo', '103'], ['Bern', '104'], ['Lima', '105']] as const) if (prompt.includes(city)) return qid;
  return '?';
}

/** A completion whose forced call carries `args` (a string is sent as it is), in the shape asked. */
function callReply(body: any, args: unknown): FakeReply {
  const name = askedFunction(body);
  const text = typeof args === 'string' ? args : JSON.stringify(args);
  return body.functions ? { function_call: { name, arguments: text } } : { tool_calls: [{ id: 'call_1', type: 'function', function: { name, arguments: text } }] };
}

type Decision = string | FakeReply;
/**
 * Per function: what the judge answers. A label answers `{<field>: label, reason}`; a list is
 * indexed by how many times the same prompt was asked before (so run r of one query gets item r).
 */
interface JudgePolicy {
  check_answer_status?: Decision | readonly Decision[];
  parse_answer_status?: Decision | readonly Decision[];
  check_task_solvable?: Decision | readonly Decision[];
}

const DEFAULT_POLICY: JudgePolicy = { check_answer_status: 'Solved', parse_answer_status: 'Solved', check_task_solvable: 'Solvable' };

async function fakeJudge(t: TestContext, policy: JudgePolicy = DEFAULT_POLICY): Promise<FakeOpenAI> {
  const asked = new Map<string, number>();
  const server = await startFakeOpenAI((body) => {
    const fn = askedFunction(body) as keyof JudgePolicy;
    const key = `${fn}\u0000${promptOf(body)}`;
    const nth = asked.get(key) ?? 0;
    asked.set(key, nth + 1);
    const rule = policy[fn];
    if (rule === undefined) return { status: 400, body: { error: { message: `fake judge: no policy for ${fn}` } } };
    const decision = Array.isArray(rule) ? (rule[Math.min(nth, rule.length - 1)] as Decision) : (rule as Decision);
    if (typeof decision !== 'string') return decision;
    const field = fn === 'check_task_solvable' ? 'task_status' : 'answer_status';
    return callReply(body, { [field]: decision, reason: `${fn} says ${decision} (${queryOf(body)}#${nth})` });
  });
  t.after(() => server.close());
  return server;
}

interface RunOptions {
  readonly out: string;
  readonly cache?: string;
  readonly server?: FakeOpenAI;
  readonly env?: Record<string, string>;
  readonly converted?: string;
  readonly testIds?: string;
}

function passRate(args: readonly string[], options: RunOptions): Promise<CliResult> {
  return runToolbench(
    [
      'eval',
      'pass-rate',
      '--converted',
      options.converted ?? CONVERTED,
      '--model',
      MODEL,
      '--test-ids',
      options.testIds ?? TEST_IDS,
      '--out',
      options.out,
      ...(options.server ? ['--base-url', options.server.baseUrl] : []),
      ...args,
    ],
    { OPENAI_API_KEY: KEY, ...(options.cache ? { TOOLBENCH_JUDGE_CACHE: options.cache } : {}), ...options.env },
  );
}

function ok(result: CliResult, code = 0): void {
  assert.equal(result.code, code, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

interface ResultFiles {
  readonly json: string;
  readonly csv: string;
  readonly summary: string;
  readonly log: string;
}

function resultFiles(out: string, protocol: 'toolbench' | 'stable' = 'toolbench'): ResultFiles {
  const base = protocol === 'stable' ? join(out, MODEL, `${SET}_${MODEL}`) : join(out, `${SET}_${MODEL}`);
  return { json: `${base}.json`, csv: `${base}.csv`, summary: `${base}.summary.json`, log: `${base}.judge.jsonl` };
}

function read(file: string): string {
  return readFileSync(file, 'utf8');
}

function readSummary(files: ResultFiles): any {
  return JSON.parse(read(files.summary));
}

function readResults(files: ResultFiles): Record<string, any> {
  return JSON.parse(read(files.json));
}

interface LogLine {
  qid: string;
  run: number;
  verdict?: any;
  error?: string;
  calls: { function: string; attempt: number; cached: boolean; reply: any; rejected?: string }[];
}

function readLog(files: ResultFiles): { header: any; entries: LogLine[] } {
  const lines = read(files.log).split('\n').filter((line) => line !== '');
  return { header: JSON.parse(lines[0]!), entries: lines.slice(1).map((line) => JSON.parse(line) as LogLine) };
}

/** Python csv.reader with delimiter '\t' (minimal quoting, doubled quotes, \r\n rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index] as string;
    if (quoted) {
      if (character === '"' && text[index + 1] === '"') {
        field += '"';
        index++;
      } else if (character === '"') quoted = false;
      else field += character;
    } else if (character === '"' && field === '') quoted = true;
    else if (character === '\t') {
      row.push(field);
      field = '';
    } else if (character === '\r' && text[index + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      index++;
    } else field += character;
  }
  assert.equal(quoted, false, 'CSV ends inside a quoted field');
  assert.deepEqual([row, field], [[], ''], 'CSV does not end with \\r\\n');
  return rows;
}

/** CSV rows as objects keyed by the header. */
function csvRecords(text: string, header: readonly string[]): Map<string, Record<string, string>> {
  const [first, ...rows] = parseCsv(text);
  assert.deepEqual(first, header);
  const records = new Map<string, Record<string, string>>();
  for (const row of rows) {
    assert.equal(row.length, header.length, `row ${JSON.stringify(row)}`);
    const record = Object.fromEntries(header.map((name, index) => [name, row[index] as string]));
    records.set(record['query_id'] as string, record);
  }
  return records;
}

function functionsAsked(server: FakeOpenAI): string[] {
  return server.requests.map((request) => askedFunction(request.body));
}

function close(actual: number, expected: number, message?: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${message ?? ''} expected ${expected}, got ${actual}`);
}

// ---------------------------------------------------------------------------------------------

describe('eval pass-rate (toolbench protocol): verdicts and result files', () => {
  test('Solved: numbers over the whole test-id list, upstream JSON and CSV, audit log', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    const result = await passRate(['--evaluate-times', '2'], { out, cache: join(dir, 'cache.jsonl'), server });
    ok(result);
    // 101: one answer call per run (Solved: no solvability call); 103, 104: the solvability call only
    assert.deepEqual(functionsAsked(server).sort(), ['check_answer_status', 'check_answer_status', ...Array(4).fill('check_task_solvable')]);
    assert.deepEqual(server.requests.map((request) => queryOf(request.body)).sort(), ['101', '101', '103', '103', '104', '104']);
    assert.match(result.stderr, /unreadable answer, counted as missing: .*"105"\.answer/);
    assert.match(result.stderr, /G1_instruction: pass rate 16\.7% ±0\.0 over 6 test ids/);

    const files = resultFiles(out);
    const summary = readSummary(files);
    assert.equal(summary.kind, 'pass-rate');
    assert.equal(summary.protocol, 'toolbench');
    assert.equal(summary.test_set, SET);
    assert.equal(summary.model, MODEL);
    assert.equal(summary.evaluate_times, 2);
    assert.equal(summary.total, 6);
    assert.equal(summary.answered, 4);
    assert.deepEqual(summary.missing_ids, ['105', '106']);
    close(summary.rate, 100 / 6);
    close(summary.rate_answered_only, 25);
    assert.equal(summary.std, 0);
    assert.deepEqual(summary.counts, { solved: 2, unsure: 0, unsolved: 6, missing: 4, errors: 0 });
    assert.deepEqual(
      summary.runs.map((run: any) => [run.run, run.counts]),
      [0, 1].map((run) => [run, { solved: 1, unsure: 0, unsolved: 3, missing: 2, errors: 0 }]),
    );
    assert.equal(summary.judge.evaluator, 'tooleval_gpt-3.5-turbo_default');
    assert.equal(summary.judge.model, 'gpt-3.5-turbo-16k');
    assert.match(summary.judge.template_sha256, /^[0-9a-f]{64}$/);

    // upstream JSON: pyjson-noascii indent 4, test-id order, key order of formats.md §5.1
    const text = read(files.json);
    assert.ok(text.startsWith('{\n    "101": {\n        "passed": 2,\n        "failed": 0,\n        "query": "What is the weather in Paris? I want a café terrace.",\n'), text.slice(0, 300));
    assert.ok(text.includes('        "tool_names": [\n            "get_weather_for_weatherapi",\n            "Finish"\n        ],\n'));
    assert.deepEqual([...text.matchAll(/^ {4}"(\d+)": \{$/gm)].map((match) => match[1]), ['101', '102', '103', '104']);
    const results = readResults(files);
    for (const qid of ['101', '102', '103', '104']) assert.deepEqual(Object.keys(results[qid]), TOOLBENCH_KEYS, qid);
    assert.deepEqual(results['101'], {
      passed: 2,
      failed: 0,
      query: QUERY_101,
      task_solvable: 'TaskStatus.Solvable',
      tool_names: ['get_weather_for_weatherapi', 'Finish'],
      answer_steps: STEPS_101,
      final_step: FINAL_STEP_101,
      is_solved: 'AnswerStatus.Solved',
      reason: 'Is solved: check_answer_status says Solved (101#1)\nTask solvable: Task has been solved before.',
      not_hallucinate: true,
    });
    const { passed, failed, task_solvable: task, is_solved: solved, reason, not_hallucinate: notHallucinate } = results['102'];
    assert.deepEqual([passed, failed, task, solved, reason, notHallucinate], [0, 2, 'TaskStatus.Solvable', 'AnswerStatus.Unsolved', 'No answer', true]);
    assert.match(results['102'].final_step, /^Final step: \{'name': 'get_weather_for_weatherapi'/);
    for (const qid of ['103', '104']) {
      assert.equal(results[qid].passed, 0);
      assert.equal(results[qid].failed, 2);
      assert.equal(results[qid].is_solved, 'AnswerStatus.Unsolved');
      assert.equal(results[qid].task_solvable, 'TaskStatus.Solvable');
      assert.equal(results[qid].reason, `Is solved: Empty final answer!\nTask solvable: check_task_solvable says Solvable (${qid}#1)`);
    }

    // upstream CSV: tab, \r\n, header of formats.md §5.1
    const csv = read(files.csv);
    assert.ok(csv.startsWith(`${TOOLBENCH_HEADER.join('\t')}\r\n`));
    const rows = csvRecords(csv, TOOLBENCH_HEADER);
    assert.deepEqual([...rows.keys()], ['101', '102', '103', '104']);
    assert.deepEqual(rows.get('101'), {
      query: QUERY_101,
      solvable: 'TaskStatus.Solvable',
      available_tools: "['get_weather_for_weatherapi', 'Finish']",
      model_intermediate_steps: STEPS_101,
      model_final_step: FINAL_STEP_101,
      model: MODEL,
      query_id: '101',
      is_solved: 'AnswerStatus.Solved',
      pass_rate_label: 'passed',
      reason: 'Is solved: check_answer_status says Solved (101#1)\nTask solvable: Task has been solved before.',
      not_hallucinate: 'True',
    });
    assert.deepEqual(['102', '103', '104'].map((qid) => rows.get(qid)!['pass_rate_label']), ['failed', 'failed', 'failed']);

    // the audit log: a header naming the judge, one line per (query, run), every reply kept
    const log = readLog(files);
    assert.equal(log.header.format, 'toolbench-judge-log/1');
    assert.equal(log.header.judge_model, 'gpt-3.5-turbo-16k');
    assert.equal(log.header.protocol, 'toolbench');
    assert.deepEqual(log.entries.map((entry) => `${entry.qid}/${entry.run}`).sort(), ['101/0', '101/1', '102/0', '102/1', '103/0', '103/1', '104/0', '104/1']);
    assert.ok(log.entries.filter((entry) => entry.qid === '102').every((entry) => entry.calls.length === 0));
    assert.ok(log.entries.filter((entry) => entry.qid !== '102').every((entry) => entry.calls.length === 1 && entry.calls[0]!.rejected === undefined));
  });

  test('Unsure: parse_answer_status decides, with the whole answer as pyjson; its reason replaces the first', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: 'Unsure', parse_answer_status: ['Solved', 'Unsure'], check_task_solvable: 'Solvable' });
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '2', '--workers', '1'], { out, cache: join(dir, 'cache.jsonl'), server }));
    const about101 = server.requests.filter((request) => queryOf(request.body) === '101').map((request) => askedFunction(request.body));
    // run 0: Unsure → parse Solved (no solvability call); run 1: Unsure → parse Unsure → solvability call
    assert.deepEqual(about101, ['check_answer_status', 'parse_answer_status', 'check_answer_status', 'parse_answer_status', 'check_task_solvable']);
    const parse = server.requests.find((request) => askedFunction(request.body) === 'parse_answer_status')!;
    assert.equal(promptOf(parse.body), PROMPTS.parse_answer_status.replace('{query}', QUERY_101).replace('{answer}', ANSWER_101));

    const files = resultFiles(out);
    const results = readResults(files);
    // run 1 (the last): Unsure + Solvable → Unsure → a seeded coin
    const coin = seededUniform(0, 'pass-rate-unsure', SET, '101', '1') < 0.5 ? 'passed' : 'failed';
    assert.equal(results['101'].passed, coin === 'passed' ? 2 : 1);
    assert.equal(results['101'].is_solved, 'AnswerStatus.Unsure');
    assert.equal(results['101'].task_solvable, 'TaskStatus.Solvable');
    assert.equal(results['101'].reason, 'Is solved: parse_answer_status says Unsure (101#1)\nTask solvable: check_task_solvable says Solvable (101#0)');
    const log = readLog(files);
    const run0 = log.entries.find((entry) => entry.qid === '101' && entry.run === 0)!;
    assert.equal(run0.verdict.answerStatus, 'Solved');
    assert.equal(run0.verdict.reason, 'Is solved: parse_answer_status says Solved (101#0)\nTask solvable: Task has been solved before.');
    assert.deepEqual(readSummary(files).counts, { solved: 1, unsure: 1, unsolved: 6, missing: 4, errors: 0 });
  });

  test('Unsolved: task Solvable fails, Unsolvable passes; a tie counts as a pass in the rate; std across runs', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: 'Unsolved', check_task_solvable: ['Solvable', 'Unsolvable'] });
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '2'], { out, cache: join(dir, 'cache.jsonl'), server }));
    const task = server.requests.find((request) => askedFunction(request.body) === 'check_task_solvable' && queryOf(request.body) === '101')!;
    assert.equal(promptOf(task.body), PROMPTS.check_task_solvable.replace('{task}', TASK_101));

    const files = resultFiles(out);
    const log = readLog(files);
    const labels = (qid: string) => log.entries.filter((entry) => entry.qid === qid).sort((a, b) => a.run - b.run).map((entry) => [entry.verdict.taskStatus, entry.verdict.label]);
    assert.deepEqual(labels('101'), [['Solvable', 'failed'], ['Unsolvable', 'passed']]);
    // 103 and 104 get the same two task answers (one empty, one give-up final answer)
    assert.deepEqual(labels('103'), [['Solvable', 'failed'], ['Unsolvable', 'passed']]);
    assert.deepEqual(labels('104'), [['Solvable', 'failed'], ['Unsolvable', 'passed']]);
    const results = readResults(files);
    assert.deepEqual([results['101'].passed, results['101'].failed, results['101'].task_solvable], [1, 1, 'TaskStatus.Unsolvable']);

    const summary = readSummary(files);
    // ties count as passes: 101, 103, 104 pass; 102 fails; 105, 106 missing
    close(summary.rate, 50);
    close(summary.runs[0].rate, 0);
    close(summary.runs[1].rate, 50);
    close(summary.std, 25);
    // the CSV label breaks the tie by a seeded draw (upstream: an unseeded coin)
    const rows = csvRecords(read(files.csv), TOOLBENCH_HEADER);
    for (const qid of ['101', '103', '104']) {
      const tie = seededUniform(0, 'pass-rate-tie', SET, qid) < 0.5 ? 'passed' : 'failed';
      assert.equal(rows.get(qid)!['pass_rate_label'], tie, qid);
    }
  });

  test('Unsolved with task Unsure: a seeded coin, reproducible with the same --seed', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: 'Unsolved', check_task_solvable: 'Unsure' });
    const cache = join(dir, 'cache.jsonl');
    const times = 8;
    const expected = (seed: number) => Array.from({ length: times }, (_, run) => (seededUniform(seed, 'pass-rate-unsure', SET, '101', String(run)) < 0.5 ? 1 : 0)).reduce((a: number, b) => a + b, 0);
    const other = Array.from({ length: 50 }, (_, seed) => seed + 1).find((seed) => expected(seed) !== expected(7));
    assert.ok(other !== undefined);

    ok(await passRate(['--evaluate-times', String(times), '--seed', '7'], { out: join(dir, 'a'), cache, server }));
    const asked = server.requests.length;
    assert.equal(asked, 4 * times, 'per run: 101 answer + task, 103 task, 104 task');
    ok(await passRate(['--evaluate-times', String(times), '--seed', '7'], { out: join(dir, 'b'), cache, server }));
    ok(await passRate(['--evaluate-times', String(times), '--seed', String(other)], { out: join(dir, 'c'), cache, server }));
    assert.equal(server.requests.length, asked, 'the coin is drawn locally: replies come from the cache');

    const first = read(resultFiles(join(dir, 'a')).json);
    assert.equal(read(resultFiles(join(dir, 'b')).json), first);
    assert.equal(read(resultFiles(join(dir, 'b')).csv), read(resultFiles(join(dir, 'a')).csv));
    assert.equal(JSON.parse(first)['101'].passed, expected(7));
    assert.equal(JSON.parse(first)['101'].is_solved, 'AnswerStatus.Unsolved');
    assert.equal(JSON.parse(first)['101'].task_solvable, 'TaskStatus.Unsure');
    assert.equal(readResults(resultFiles(join(dir, 'c')))['101'].passed, expected(other));
  });
});

describe('eval pass-rate (toolbench protocol): hallucination check', () => {
  test('a tool step whose name is not among the available tools: not_hallucinate false (informational only)', async (t) => {
    const dir = tempDir(t);
    const converted = join(dir, 'converted');
    cpSync(CONVERTED, converted, { recursive: true });
    const file = join(converted, MODEL, `${SET}.json`);
    const data = JSON.parse(read(file));
    data['101'].answer.answer_details[0].next[0].next[0].message.name = 'made_up_tool';
    writeFileSync(file, JSON.stringify(data));
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '1'], { out, cache: join(dir, 'cache.jsonl'), server, converted }));
    const files = resultFiles(out);
    const results = readResults(files);
    assert.equal(results['101'].not_hallucinate, false);
    assert.equal(results['101'].passed, 1, 'the check does not change the verdict');
    assert.equal(results['103'].not_hallucinate, true);
    const rows = csvRecords(read(files.csv), TOOLBENCH_HEADER);
    assert.equal(rows.get('101')!['not_hallucinate'], 'False');
    assert.equal(rows.get('103')!['not_hallucinate'], 'True');
  });
});

describe('eval pass-rate (stable protocol): SoPR', () => {
  test('tools shape, no solvability call, Unsure scores 0.5, mean and population std over runs, files under <out>/<model>/', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: ['Solved', 'Unsure', 'Unsolved'], parse_answer_status: 'Unsure' });
    const out = join(dir, 'out');
    const result = await passRate(['--protocol', 'stable', '--evaluate-times', '3', '--workers', '1'], { out, cache: join(dir, 'cache.jsonl'), server });
    ok(result);
    assert.deepEqual(functionsAsked(server), ['check_answer_status', 'check_answer_status', 'parse_answer_status', 'check_answer_status']);
    for (const request of server.requests) {
      assert.equal(queryOf(request.body), '101');
      assert.equal(request.body.functions, undefined);
      assert.equal(request.body.function_call, undefined);
      const fn = askedFunction(request.body);
      assert.deepEqual(request.body.tool_choice, { type: 'function', function: { name: fn } });
      assert.equal(request.body.tools.length, 1);
      assert.equal(request.body.tools[0].type, 'function');
      assert.equal(request.body.tools[0].function.name, fn);
      assert.deepEqual(request.body.tools[0].function.parameters.required, ['answer_status', 'reason']);
    }
    assert.match(result.stderr, /SoPR 8\.3% ±6\.8 over 6 test ids/);

    const files = resultFiles(out, 'stable');
    assert.ok(!existsSync(resultFiles(out).json), 'stable results go to <out>/<model>/');
    const summary = readSummary(files);
    assert.equal(summary.protocol, 'stable');
    assert.equal(summary.total, 6);
    assert.deepEqual(summary.missing_ids, ['105', '106']);
    close(summary.runs[0].rate, 100 / 6);
    close(summary.runs[1].rate, 50 / 6);
    close(summary.runs[2].rate, 0);
    close(summary.rate, 50 / 6);
    close(summary.std, Math.sqrt(((100 / 6 - 50 / 6) ** 2 * 2) / 3));
    close(summary.rate_answered_only, 50 / 4);
    assert.deepEqual(summary.counts, { solved: 1, unsure: 1, unsolved: 10, missing: 6, errors: 0 });

    const results = readResults(files);
    assert.deepEqual(Object.keys(results), ['101', '102', '103', '104']);
    for (const qid of Object.keys(results)) assert.deepEqual(Object.keys(results[qid]), STABLE_KEYS, qid);
    assert.deepEqual(results['101'], {
      query: QUERY_101,
      tool_names: ['get_weather_for_weatherapi', 'Finish'],
      answer_steps: STEPS_101,
      final_step: FINAL_STEP_101,
      is_solved: { '0': 'AnswerStatus.Solved', '1': 'AnswerStatus.Unsure', '2': 'AnswerStatus.Unsolved' },
    });
    for (const qid of ['102', '103', '104']) assert.deepEqual(results[qid].is_solved, { '0': 'AnswerStatus.Unsolved', '1': 'AnswerStatus.Unsolved', '2': 'AnswerStatus.Unsolved' });
    assert.ok(read(files.json).includes('        "is_solved": {\n            "0": "AnswerStatus.Solved",\n            "1": "AnswerStatus.Unsure",\n            "2": "AnswerStatus.Unsolved"\n        }\n'));

    const rows = csvRecords(read(files.csv), STABLE_HEADER);
    assert.deepEqual(rows.get('101'), {
      query: QUERY_101,
      available_tools: "['get_weather_for_weatherapi', 'Finish']",
      model_intermediate_steps: STEPS_101,
      model_final_step: FINAL_STEP_101,
      model: MODEL,
      query_id: '101',
      is_solved: "{0: 'AnswerStatus.Solved', 1: 'AnswerStatus.Unsure', 2: 'AnswerStatus.Unsolved'}",
    });
  });

  test('EVAL_MODEL names the judge; --judge wins over it', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const cache = join(dir, 'cache.jsonl');
    ok(await passRate(['--protocol', 'stable', '--evaluate-times', '1'], { out: join(dir, 'a'), cache, server, env: { EVAL_MODEL: 'gpt-4o-eval' } }));
    assert.deepEqual(server.requests.map((request) => request.body.model), ['gpt-4o-eval']);
    assert.equal(readSummary(resultFiles(join(dir, 'a'), 'stable')).judge.model, 'gpt-4o-eval');
    ok(await passRate(['--protocol', 'stable', '--evaluate-times', '1', '--judge', 'judge-x'], { out: join(dir, 'b'), cache, server, env: { EVAL_MODEL: 'gpt-4o-eval' } }));
    assert.deepEqual(server.requests.map((request) => request.body.model), ['gpt-4o-eval', 'judge-x']);
    // EVAL_MODEL is StableToolBench's: the toolbench protocol keeps the evaluator's model
    ok(await passRate(['--evaluate-times', '1'], { out: join(dir, 'c'), cache, server, env: { EVAL_MODEL: 'gpt-4o-eval' } }));
    assert.ok(server.requests.slice(2).every((request) => request.body.model === 'gpt-3.5-turbo-16k'));
  });
});

describe('eval pass-rate: the judge request', () => {
  test('prompt filled by str.format, schema with reason, model and settings from the evaluator config', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: 'Unsolved', check_task_solvable: 'Solvable' });
    ok(await passRate(['--evaluate-times', '1', '--workers', '1'], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server }));
    const answer = server.requests.find((request) => askedFunction(request.body) === 'check_answer_status')!;
    assert.equal(answer.path, '/v1/chat/completions');
    assert.equal(answer.headers['authorization'], `Bearer ${KEY}`);
    assert.deepEqual(Object.keys(answer.body), ['model', 'messages', 'max_tokens', 'temperature', 'functions', 'function_call']);
    assert.equal(answer.body.model, 'gpt-3.5-turbo-16k');
    assert.equal(answer.body.max_tokens, 1000);
    assert.equal(answer.body.temperature, 0.2);
    assert.deepEqual(answer.body.messages, [{ role: 'user', content: PROMPTS.check_answer_status.replace('{query}', QUERY_101).replace('{answer}', FINAL_101) }]);
    assert.ok(promptOf(answer.body).includes(`Query:\n${QUERY_101}\nAnswer:\n${FINAL_101}\n`));
    assert.deepEqual(answer.body.functions, [
      {
        name: 'check_answer_status',
        description: 'Parse the json answer with layerd nodes and return the answer_status about the answer',
        parameters: { type: 'object', properties: { answer_status: { type: 'string', enum: ANSWER_ENUM }, reason: REASON }, required: ['answer_status', 'reason'] },
      },
    ]);
    assert.deepEqual(Object.keys(answer.body.functions[0].parameters.properties), ['answer_status', 'reason']);
    assert.deepEqual(answer.body.function_call, { name: 'check_answer_status' });

    const task = server.requests.find((request) => askedFunction(request.body) === 'check_task_solvable' && queryOf(request.body) === '101')!;
    assert.deepEqual(task.body.functions, [
      {
        name: 'check_task_solvable',
        description: 'Parse the task description and return the task_status about the task',
        parameters: { type: 'object', properties: { task_status: { type: 'string', enum: TASK_ENUM }, reason: REASON }, required: ['task_status', 'reason'] },
      },
    ]);
    assert.equal(promptOf(task.body), PROMPTS.check_task_solvable.replace('{task}', TASK_101));
  });

  test('--shape tools with the toolbench protocol sends tools + tool_choice', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    ok(await passRate(['--evaluate-times', '1', '--shape', 'tools'], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server }));
    assert.ok(server.requests.length > 0);
    for (const request of server.requests) {
      assert.equal(request.body.functions, undefined);
      assert.deepEqual(request.body.tool_choice, { type: 'function', function: { name: askedFunction(request.body) } });
    }
    assert.ok(functionsAsked(server).includes('check_task_solvable'), 'still the toolbench protocol');
  });

  test('--judge names another model; nothing else of the request changes', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    ok(await passRate(['--evaluate-times', '1', '--judge', 'qwen2.5-72b'], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server }));
    assert.ok(server.requests.length > 0);
    assert.ok(server.requests.every((request) => request.body.model === 'qwen2.5-72b' && request.body.max_tokens === 1000 && request.body.temperature === 0.2));
    assert.equal(readSummary(resultFiles(join(dir, 'out'))).judge.model, 'qwen2.5-72b');
  });
});

describe('eval pass-rate: unusable judge replies', () => {
  /** Replies to 101's check_answer_status by `bad`, one per attempt; other calls answer well. */
  async function badJudge(t: TestContext, bad: (body: any, attempt: number) => FakeReply): Promise<FakeOpenAI> {
    let attempt = 0;
    const server = await startFakeOpenAI((body) => {
      const fn = askedFunction(body);
      if (fn === 'check_answer_status') return bad(body, attempt++);
      return callReply(body, fn === 'check_task_solvable' ? { task_status: 'Solvable', reason: 'ok' } : { answer_status: 'Solved', reason: 'ok' });
    });
    t.after(() => server.close());
    return server;
  }

  const REFUSAL: FakeReply = {
    status: 200,
    body: {
      id: 'chatcmpl-refusal',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gpt-3.5-turbo-16k',
      choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'I cannot help with grading.' }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    },
  };

  test('not JSON, a label outside the enum, no call, a refusal: retried; when --retries run out the run has no verdict (exit 3)', async (t) => {
    const dir = tempDir(t);
    const replies = (body: any, attempt: number): FakeReply =>
      [callReply(body, '{"answer_status": "Solved", '), callReply(body, { answer_status: 'Probably', reason: 'hm' }), { content: 'Solved, I think.' }, REFUSAL][attempt] ?? { status: 400 };
    const server = await badJudge(t, replies);
    const out = join(dir, 'out');
    const result = await passRate(['--evaluate-times', '1', '--retries', '3'], { out, cache: join(dir, 'cache.jsonl'), server });
    ok(result, 3);
    assert.equal(functionsAsked(server).filter((fn) => fn === 'check_answer_status').length, 4);
    assert.match(result.stderr, /query 101 run 0: check_answer_status: no usable judge reply in 4 attempt\(s\)/);
    assert.match(result.stderr, /1 runs without a verdict/);

    const files = resultFiles(out);
    const summary = readSummary(files);
    assert.equal(summary.counts.errors, 1);
    assert.deepEqual(summary.runs[0].counts, { solved: 0, unsure: 0, unsolved: 3, missing: 2, errors: 1 });
    close(summary.rate, 0);
    assert.equal(readResults(files)['101'], undefined, 'no verdict, nothing written for 101');
    const entry = readLog(files).entries.find((line) => line.qid === '101')!;
    assert.equal(entry.verdict, undefined);
    assert.match(entry.error!, /no usable judge reply/);
    assert.equal(entry.calls.length, 4);
    assert.deepEqual(entry.calls.map((call) => call.attempt), [0, 1, 2, 3]);
    const [notJson, badLabel, noCall, refusal] = entry.calls;
    assert.match(notJson!.rejected!, /not JSON/);
    assert.equal(notJson!.reply.arguments, '{"answer_status": "Solved", ');
    assert.match(badLabel!.rejected!, /answer_status must be one of Unsure, Unsolved, Solved, got "Probably"/);
    assert.match(noCall!.rejected!, /no function call \(text: Solved, I think\.\)/);
    assert.equal(noCall!.reply.content, 'Solved, I think.');
    assert.match(refusal!.rejected!, /refused: I cannot help with grading\./);
    // nothing rejected is cached: the next run asks again
    assert.ok(!read(join(dir, 'cache.jsonl')).includes('Probably'));
  });

  test('a bad reply then a good one: the verdict stands and the log keeps both (tools shape too)', async (t) => {
    for (const protocol of ['toolbench', 'stable'] as const) {
      const dir = tempDir(t);
      const server = await badJudge(t, (body, attempt) => (attempt === 0 ? callReply(body, 'not json at all') : callReply(body, { answer_status: 'Solved', reason: 'fine' })));
      const out = join(dir, 'out');
      ok(await passRate(['--evaluate-times', '1', '--protocol', protocol], { out, cache: join(dir, 'cache.jsonl'), server }));
      const asks = server.requests.filter((request) => askedFunction(request.body) === 'check_answer_status');
      assert.equal(asks.length, 2, protocol);
      assert.equal(asks[0]!.rawBody, asks[1]!.rawBody, 'the retry asks the same');
      if (protocol === 'stable') assert.ok(asks[0]!.body.tools);
      const files = resultFiles(out, protocol);
      const entry = readLog(files).entries.find((line) => line.qid === '101')!;
      assert.equal(entry.verdict.answerStatus, 'Solved');
      assert.deepEqual(entry.calls.map((call) => [call.attempt, call.rejected === undefined]), [[0, false], [1, true]]);
      assert.equal(readSummary(files).counts.solved, 1);
    }
  });
});

describe('eval pass-rate: HTTP errors', () => {
  test('500 and 429 are retried by the client, then the reply is used', async (t) => {
    const dir = tempDir(t);
    let answerCalls = 0;
    const server = await startFakeOpenAI((body) => {
      const fn = askedFunction(body);
      if (fn === 'check_answer_status') {
        answerCalls++;
        if (answerCalls === 1) return { status: 500, headers: { 'retry-after-ms': '1' } };
        if (answerCalls === 2) return { status: 429, headers: { 'retry-after-ms': '1' }, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } } };
        return callReply(body, { answer_status: 'Solved', reason: 'fine' });
      }
      return callReply(body, { task_status: 'Solvable', reason: 'ok' });
    });
    t.after(() => server.close());
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '1'], { out, cache: join(dir, 'cache.jsonl'), server }));
    assert.equal(answerCalls, 3);
    const entry = readLog(resultFiles(out)).entries.find((line) => line.qid === '101')!;
    assert.equal(entry.verdict.answerStatus, 'Solved');
    assert.equal(entry.calls.length, 1, 'HTTP retries are the client\'s: one judge attempt');
  });

  test('a server that keeps failing: every attempt is lost, no verdict, exit 3', async (t) => {
    const dir = tempDir(t);
    const server = await startFakeOpenAI(() => ({ status: 503, headers: { 'retry-after-ms': '1' } }));
    t.after(() => server.close());
    const out = join(dir, 'out');
    const result = await passRate(['--evaluate-times', '1', '--retries', '1', '--workers', '1'], { out, cache: join(dir, 'cache.jsonl'), server });
    ok(result, 3);
    const summary = readSummary(resultFiles(out));
    assert.equal(summary.counts.errors, 3, '101, 103 and 104 have no verdict');
    // the client makes 1 + 5 tries per judge attempt, 2 attempts per call, 3 calls
    assert.equal(server.requests.length, 6 * 2 * 3);
    const entry = readLog(resultFiles(out)).entries.find((line) => line.qid === '103')!;
    assert.deepEqual(entry.calls.map((call) => [call.attempt, call.reply]), [[0, null], [1, null]]);
    assert.match(entry.calls[0]!.rejected!, /judge endpoint .* failed/);
  });

  test(
    'a long run leaves no abort listener per request on the command signal (no MaxListenersExceededWarning)',
    async (t) => {
      const dir = tempDir(t);
      const warnings: string[] = [];
      const onWarning = (warning: Error): void => void warnings.push(warning.name);
      process.on('warning', onWarning);
      t.after(() => void process.off('warning', onWarning));
      const server = await fakeJudge(t);
      ok(await passRate(['--evaluate-times', '20', '--workers', '1', '--no-judge-cache'], { out: join(dir, 'out'), server }));
      assert.equal(server.requests.length, 60);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings.filter((name) => name === 'MaxListenersExceededWarning'), []);
    },
  );

  test('401 stops the command (exit 1) and the key never appears in the output', async (t) => {
    const dir = tempDir(t);
    const server = await startFakeOpenAI(() => ({
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${KEY}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', code: 'invalid_api_key' } },
    }));
    t.after(() => server.close());
    const out = join(dir, 'out');
    const result = await passRate(['--evaluate-times', '1', '--workers', '1', '--debug'], { out, cache: join(dir, 'cache.jsonl'), server });
    ok(result, 1);
    assert.equal(server.requests.length, 1, '401 is not retried');
    assert.equal(server.requests[0]!.headers['authorization'], `Bearer ${KEY}`);
    assert.match(result.stderr, /HTTP 401/);
    assert.match(result.stderr, /check the API key/);
    assert.ok(!result.stderr.includes(KEY), result.stderr);
    assert.ok(!result.stdout.includes(KEY));
    assert.ok(!read(resultFiles(out).log).includes(KEY), 'nor in the audit log');
  });
});

describe('eval pass-rate: judge cache and resume', () => {
  test('a second run with --overwrite is served from the cache; --no-judge-cache asks again', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: 'Unsolved', check_task_solvable: 'Solvable' });
    const cache = join(dir, 'cache.jsonl');
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '2'], { out, cache, server }));
    const asked = server.requests.length;
    assert.equal(asked, 8, '101: 2 calls a run; 103, 104: 1 a run');
    const files = resultFiles(out);
    const first = { json: read(files.json), csv: read(files.csv), summary: read(files.summary) };
    assert.equal(read(cache).trim().split('\n').length, 8);

    ok(await passRate(['--evaluate-times', '2', '--overwrite'], { out, cache, server }));
    assert.equal(server.requests.length, asked, 'zero requests');
    assert.deepEqual({ json: read(files.json), csv: read(files.csv), summary: read(files.summary) }, first);
    const calls = readLog(files).entries.flatMap((entry) => entry.calls);
    assert.equal(calls.length, 8);
    assert.ok(calls.every((call) => call.cached));

    ok(await passRate(['--evaluate-times', '2', '--overwrite', '--no-judge-cache'], { out, cache, server }));
    assert.equal(server.requests.length, 2 * asked);
    assert.ok(readLog(files).entries.flatMap((entry) => entry.calls).every((call) => !call.cached));
  });

  test('--judge-cache FILE is used instead of TOOLBENCH_JUDGE_CACHE', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const file = join(dir, 'mine.jsonl');
    ok(await passRate(['--evaluate-times', '1', '--judge-cache', file], { out: join(dir, 'out'), cache: join(dir, 'env.jsonl'), server }));
    assert.ok(existsSync(file));
    assert.ok(!existsSync(join(dir, 'env.jsonl')));
  });

  test('resume: running again without --overwrite asks nothing and leaves the files as they are; more runs ask only those', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    const files = resultFiles(out);
    // no cache here: only what is in --out can spare the requests
    ok(await passRate(['--evaluate-times', '1', '--no-judge-cache'], { out, server }));
    const asked = server.requests.length;
    assert.equal(asked, 3);
    const snapshot = () => Object.fromEntries(Object.entries(files).map(([name, file]) => [name, read(file)]));
    const first = snapshot();

    ok(await passRate(['--evaluate-times', '1', '--no-judge-cache'], { out, server }));
    assert.equal(server.requests.length, asked, 'zero requests');
    assert.deepEqual(snapshot(), first);

    ok(await passRate(['--evaluate-times', '2', '--no-judge-cache'], { out, server }));
    assert.equal(server.requests.length, 2 * asked, 'only run 1 is asked');
    const log = readLog(files);
    assert.deepEqual(log.entries.map((entry) => `${entry.qid}/${entry.run}`).sort(), ['101/0', '101/1', '102/0', '102/1', '103/0', '103/1', '104/0', '104/1']);
    assert.equal(readResults(files)['101'].passed, 2);
    assert.equal(readSummary(files).evaluate_times, 2);
  });

  test('resume after a failed run asks only the runs without a verdict', async (t) => {
    const dir = tempDir(t);
    const out = join(dir, 'out');
    const cache = join(dir, 'cache.jsonl');
    const broken = await fakeJudge(t, { check_answer_status: { content: 'no idea' }, check_task_solvable: 'Solvable' });
    ok(await passRate(['--evaluate-times', '1', '--retries', '0'], { out, cache, server: broken }), 3);
    assert.equal(readSummary(resultFiles(out)).counts.errors, 1);
    const fixed = await fakeJudge(t);
    const result = await passRate(['--evaluate-times', '1', '--json'], { out, cache, server: fixed });
    ok(result);
    assert.deepEqual(functionsAsked(fixed), ['check_answer_status'], '103 and 104 kept their verdicts');
    const summary = readSummary(resultFiles(out));
    assert.equal(summary.counts.errors, 0);
    assert.equal(summary.counts.solved, 1);
    // --json: one summary per test set on stdout, with the file names
    const printed = JSON.parse(result.stdout);
    assert.equal(printed.rate, summary.rate);
    assert.equal(printed.files.json, resultFiles(out).json);
  });

  test('resume refuses to mix judges', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '1'], { out, cache: join(dir, 'cache.jsonl'), server }));
    const asked = server.requests.length;
    const result = await passRate(['--evaluate-times', '1', '--judge', 'another-model'], { out, cache: join(dir, 'cache.jsonl'), server });
    ok(result, 2);
    assert.match(result.stderr, /would mix them: give --overwrite/);
    assert.equal(server.requests.length, asked);
  });
});

describe('eval pass-rate: --judge replay:FILE', () => {
  async function judgedOnce(t: TestContext, protocol: 'toolbench' | 'stable') {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: ['Unsure', 'Solved', 'Unsolved'], parse_answer_status: 'Unsure', check_task_solvable: ['Unsure', 'Unsolvable', 'Solvable'] });
    const out = join(dir, 'first');
    ok(await passRate(['--evaluate-times', '3', '--protocol', protocol], { out, cache: join(dir, 'cache.jsonl'), server }));
    return { dir, server, files: resultFiles(out, protocol), asked: server.requests.length };
  }

  test('re-scores from the audit log without any model: no key, no endpoint, zero requests, same files', async (t) => {
    const { dir, server, files, asked } = await judgedOnce(t, 'toolbench');
    const out = join(dir, 'replayed');
    const result = await runToolbench(['eval', 'pass-rate', '--converted', CONVERTED, '--model', MODEL, '--test-ids', TEST_IDS, '--out', out, '--judge', `replay:${files.log}`], {});
    ok(result);
    assert.equal(server.requests.length, asked, 'zero requests');
    const replayed = resultFiles(out);
    assert.equal(read(replayed.json), read(files.json));
    assert.equal(read(replayed.csv), read(files.csv));
    const [before, after] = [readSummary(files), readSummary(replayed)];
    for (const field of ['rate', 'std', 'rate_answered_only', 'counts', 'runs', 'missing_ids', 'total', 'evaluate_times'] as const) assert.deepEqual(after[field], before[field], field);
    assert.equal(after.judge.model, before.judge.model);
  });

  test('stable, with --protocol stable given: same files, zero requests', async (t) => {
    const { dir, server, files, asked } = await judgedOnce(t, 'stable');
    const out = join(dir, 'replayed');
    const result = await runToolbench(['eval', 'pass-rate', '--converted', CONVERTED, '--model', MODEL, '--test-ids', TEST_IDS, '--out', out, '--protocol', 'stable', '--judge', `replay:${files.log}`], {});
    ok(result);
    assert.equal(server.requests.length, asked);
    const replayed = resultFiles(out, 'stable');
    assert.equal(read(replayed.json), read(files.json));
    assert.equal(read(replayed.csv), read(files.csv));
    assert.deepEqual(readSummary(replayed).runs, readSummary(files).runs);
  });

  test(
    'stable, without --protocol: the protocol and the request shape come from the log',
    async (t) => {
      const { dir, server, files, asked } = await judgedOnce(t, 'stable');
      const out = join(dir, 'replayed');
      const result = await runToolbench(['eval', 'pass-rate', '--converted', CONVERTED, '--model', MODEL, '--test-ids', TEST_IDS, '--out', out, '--judge', `replay:${files.log}`], {});
      ok(result);
      assert.equal(server.requests.length, asked);
      const replayed = resultFiles(out, 'stable');
      assert.equal(read(replayed.json), read(files.json));
      assert.deepEqual(readSummary(replayed).runs, readSummary(files).runs);
    },
  );

  test('--protocol contradicting the log is refused', async (t) => {
    const { dir, files } = await judgedOnce(t, 'toolbench');
    const result = await runToolbench(['eval', 'pass-rate', '--converted', CONVERTED, '--model', MODEL, '--test-ids', TEST_IDS, '--out', join(dir, 'replayed'), '--protocol', 'stable', '--judge', `replay:${files.log}`], {});
    ok(result, 2);
    assert.match(result.stderr, /--protocol stable: the recorded results are toolbench/);
  });

  test('a replay follows the recorded attempts: a reply accepted at the 4th attempt (--retries 3) is found again', async (t) => {
    const dir = tempDir(t);
    let attempt = 0;
    const server = await startFakeOpenAI((body) => {
      const fn = askedFunction(body);
      if (fn === 'check_answer_status') return attempt++ < 3 ? callReply(body, 'oops') : callReply(body, { answer_status: 'Solved', reason: 'fine' });
      return callReply(body, { task_status: 'Solvable', reason: 'ok' });
    });
    t.after(() => server.close());
    const first = join(dir, 'first');
    ok(await passRate(['--evaluate-times', '1', '--retries', '3'], { out: first, cache: join(dir, 'cache.jsonl'), server }));
    const files = resultFiles(first);
    // with the same --retries: the same verdicts
    const again = join(dir, 'again');
    ok(await runToolbench(['eval', 'pass-rate', '--converted', CONVERTED, '--model', MODEL, '--test-ids', TEST_IDS, '--out', again, '--retries', '3', '--judge', `replay:${files.log}`], {}));
    assert.equal(read(resultFiles(again).json), read(files.json));
  });

  test(
    'a replay without --retries still finds replies recorded after more attempts than the default',
    async (t) => {
      const dir = tempDir(t);
      let attempt = 0;
      const server = await startFakeOpenAI((body) => {
        const fn = askedFunction(body);
        if (fn === 'check_answer_status') return attempt++ < 3 ? callReply(body, 'oops') : callReply(body, { answer_status: 'Solved', reason: 'fine' });
        return callReply(body, { task_status: 'Solvable', reason: 'ok' });
      });
      t.after(() => server.close());
      const first = join(dir, 'first');
      ok(await passRate(['--evaluate-times', '1', '--retries', '3'], { out: first, cache: join(dir, 'cache.jsonl'), server }));
      const files = resultFiles(first);
      const again = join(dir, 'again');
      ok(await runToolbench(['eval', 'pass-rate', '--converted', CONVERTED, '--model', MODEL, '--test-ids', TEST_IDS, '--out', again, '--judge', `replay:${files.log}`], {}));
      assert.equal(read(resultFiles(again).json), read(files.json));
    },
  );

  test('a replay against changed converted answers fails with a clear message', async (t) => {
    const { dir, files } = await judgedOnce(t, 'toolbench');
    const converted = join(dir, 'converted');
    cpSync(CONVERTED, converted, { recursive: true });
    const file = join(converted, MODEL, `${SET}.json`);
    writeFileSync(file, read(file).replaceAll('It is sunny in Paris', 'It is raining in Paris'));
    const result = await runToolbench(['eval', 'pass-rate', '--converted', converted, '--model', MODEL, '--test-ids', TEST_IDS, '--out', join(dir, 'replayed'), '--judge', `replay:${files.log}`], {});
    ok(result, 1);
    assert.match(result.stderr, /no recorded reply to a check_answer_status request/);
    assert.match(result.stderr, /the converted answers, the evaluator or the judge model differ/);
  });

  test('re-scores from an upstream result JSON', async (t) => {
    const { dir, server, files, asked } = await judgedOnce(t, 'stable');
    const out = join(dir, 'replayed');
    const result = await runToolbench(['eval', 'pass-rate', '--converted', CONVERTED, '--model', MODEL, '--test-ids', TEST_IDS, '--out', out, '--judge', `replay:${files.json}`], {});
    ok(result);
    assert.equal(server.requests.length, asked);
    const replayed = resultFiles(out, 'stable');
    assert.equal(read(replayed.json), read(files.json));
    const [before, after] = [readSummary(files), readSummary(replayed)];
    assert.deepEqual([after.rate, after.std, after.counts], [before.rate, before.std, before.counts]);
    assert.equal(after.judge.model, `replay:${files.json}`);
  });
});

describe('eval pass-rate: key pool', () => {
  test('--key-pool: entries used round-robin, each with its key and api_base', async (t) => {
    const dir = tempDir(t);
    const order: string[] = [];
    const servers = await Promise.all(
      ['a', 'b'].map((name) =>
        startFakeOpenAI((body) => {
          order.push(name);
          return callReply(body, askedFunction(body) === 'check_task_solvable' ? { task_status: 'Solvable', reason: 'ok' } : { answer_status: 'Solved', reason: 'ok' });
        }),
      ),
    );
    t.after(() => Promise.all(servers.map((server) => server.close())));
    const [a, b] = servers as [FakeOpenAI, FakeOpenAI];
    const pool = join(dir, 'pool.json');
    writeFileSync(pool, JSON.stringify([
      { username: 'ignored', passwd: 'ignored', api_key: 'key-a', organization: 'org-a', api_base: a.baseUrl },
      { api_key: 'key-b', api_base: b.baseUrl },
    ]));
    const result = await passRate(['--evaluate-times', '2', '--workers', '1', '--key-pool', pool], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), env: { OPENAI_API_KEY: '' } });
    ok(result);
    assert.equal(order.length, 6);
    assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a', 'b']);
    assert.ok(a.requests.every((request: RecordedRequest) => request.headers['authorization'] === 'Bearer key-a'));
    assert.ok(b.requests.every((request: RecordedRequest) => request.headers['authorization'] === 'Bearer key-b'));
    assert.ok(a.requests.every((request: RecordedRequest) => request.headers['openai-organization'] === 'org-a'));
    assert.ok(b.requests.every((request: RecordedRequest) => request.headers['openai-organization'] === undefined));
    assert.ok(!result.stderr.includes('key-a') && !result.stderr.includes('key-b'));
  });
});

describe('eval pass-rate: evaluators', () => {
  const DEFAULT_CONFIG_LINES = [
    'evaluator_name: "my_eval"',
    'registered_cls_name: "ReinforceToolLearningEvaluator"',
    'prompt_template: "prompts.txt"',
    'fn_completions: "normalized_openai_completions"',
    'completions_kwargs:',
    '  model: "custom-judge-1"',
    '  max_tokens: 77',
    '  temperature: 0',
    '  timeout: 5',
    '  functions:',
    ...['check_answer_status', 'parse_answer_status'].flatMap((name) => [
      `    - name: "${name}"`,
      '      description: "answer status"',
      '      parameters:',
      '        type: "object"',
      '        properties:',
      '          answer_status:',
      '            type: "string"',
      '            enum: ["Unsure","Unsolved","Solved"]',
      '        required: ["answer_status"]',
    ]),
    '    - name: "check_task_solvable"',
    '      description: "task status"',
    '      parameters:',
    '        type: "object"',
    '        properties:',
    '          task_status:',
    '            type: "string"',
    '            enum: ["Unsure","Unsolvable","Solvable"]',
    '        required: ["task_status"]',
  ];
  const CUSTOM_TEMPLATE =
    '<function>\n<name>check_answer_status</name>\n<description>Q={query} A={answer} {{literal}}</description>\n</function>\n' +
    '<function>\n<name>parse_answer_status</name>\n<description>P={query} {answer}</description>\n</function>\n' +
    '<function>\n<name>check_task_solvable</name>\n<description>T={task}</description>\n</function>\n';

  function writeEvaluator(root: string, name: string, config: string, template: string, templateName = 'prompts.txt'): void {
    mkdirSync(join(root, name), { recursive: true });
    writeFileSync(join(root, name, 'config.yaml'), config);
    writeFileSync(join(root, name, templateName), template);
  }

  test('--evaluators DIR --evaluator NAME: its model, settings, template and schemas', async (t) => {
    const dir = tempDir(t);
    const root = join(dir, 'evaluators');
    writeEvaluator(root, 'my_eval', `${DEFAULT_CONFIG_LINES.join('\n')}\n`, CUSTOM_TEMPLATE);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '1', '--evaluators', root, '--evaluator', 'my_eval'], { out, cache: join(dir, 'cache.jsonl'), server }));
    const answer = server.requests.find((request) => askedFunction(request.body) === 'check_answer_status')!;
    assert.equal(answer.body.model, 'custom-judge-1');
    assert.equal(answer.body.max_tokens, 77);
    assert.equal(answer.body.temperature, 0);
    assert.equal(promptOf(answer.body), `Q=${QUERY_101} A=${FINAL_101} {literal}`);
    assert.equal(answer.body.functions[0].description, 'answer status');
    assert.deepEqual(answer.body.functions[0].parameters.required, ['answer_status', 'reason']);
    const task = server.requests.find((request) => askedFunction(request.body) === 'check_task_solvable')!;
    assert.ok(promptOf(task.body).startsWith('T={"query": '));
    const summary = readSummary(resultFiles(out));
    assert.equal(summary.judge.evaluator, 'my_eval');
    assert.equal(summary.judge.model, 'custom-judge-1');
  });

  test('the older nested layout (everything under the evaluator name) loads', async (t) => {
    const dir = tempDir(t);
    const root = join(dir, 'evaluators');
    const nested = `nested_eval:\n${DEFAULT_CONFIG_LINES.filter((line) => !line.startsWith('evaluator_name') && !line.startsWith('registered_cls_name')).map((line) => `  ${line}`).join('\n')}\n`;
    writeEvaluator(root, 'nested_eval', nested, CUSTOM_TEMPLATE);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    ok(await passRate(['--evaluate-times', '1', '--evaluators', root, '--evaluator', 'nested_eval'], { out, cache: join(dir, 'cache.jsonl'), server }));
    assert.ok(server.requests.length > 0);
    assert.ok(server.requests.every((request) => request.body.model === 'custom-judge-1' && request.body.max_tokens === 77));
    assert.equal(readSummary(resultFiles(out)).judge.evaluator, 'nested_eval');
  });

  test('an evaluator lacking the pass-rate functions is refused, naming them, before any request', async (t) => {
    const dir = tempDir(t);
    const root = join(dir, 'evaluators');
    const config = [
      'pref_only:',
      '  prompt_template: "template.txt"',
      '  fn_completions: "openai_completions"',
      '  completions_kwargs:',
      '    model: "gpt-4-0613"',
      '    max_tokens: 100',
      '    function_call:',
      '      name: "choose_preference"',
      '    functions:',
      '      - name: "choose_preference"',
      '        description: "Choose the preferred answer."',
      '        parameters:',
      '          type: "object"',
      '          properties:',
      '            preference:',
      '              type: "number"',
      '        "required": [ "preference" ]',
      '',
    ].join('\n');
    writeEvaluator(root, 'pref_only', config, '<message>\n<role>user</role>\n<content>{task_description} {answers}</content>\n</message>', 'template.txt');
    const server = await fakeJudge(t);
    for (const [protocol, missing] of [
      ['toolbench', 'check_answer_status, parse_answer_status, check_task_solvable'],
      ['stable', 'check_answer_status, parse_answer_status'],
    ] as const) {
      const result = await passRate(['--evaluators', root, '--evaluator', 'pref_only', '--protocol', protocol], { out: join(dir, protocol), cache: join(dir, 'cache.jsonl'), server });
      ok(result, 2);
      assert.match(result.stderr, /--evaluator pref_only cannot judge a pass rate/);
      assert.ok(result.stderr.includes(`lacks the judge function(s) ${missing} `), result.stderr);
    }
    assert.equal(server.requests.length, 0);
  });

  test("upstream's nested tooleval_gpt-4_fn (branch format_answer_generation_code) is refused for pass rate", { skip: SKIP_WITHOUT_DATA }, async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const root = dataPath('toolbench/branch-format_answer_generation_code/toolbench/tooleval/evaluators');
    const result = await passRate(['--evaluators', root, '--evaluator', 'tooleval_gpt-4_fn'], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server });
    ok(result, 2);
    assert.match(result.stderr, /--evaluator tooleval_gpt-4_fn cannot judge a pass rate: it lacks the judge function\(s\) check_answer_status, parse_answer_status, check_task_solvable/);
    assert.equal(server.requests.length, 0);
  });

  test('an unknown evaluator names the built-in ones', async (t) => {
    const dir = tempDir(t);
    const result = await passRate(['--evaluator', 'no_such_eval'], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl') });
    ok(result, 2);
    assert.match(result.stderr, /--evaluator no_such_eval: no such evaluator; built in: tooleval_gpt-3\.5-turbo_default/);
  });
});

describe('eval pass-rate: bad input', () => {
  test('no test-id file for the set', async (t) => {
    const dir = tempDir(t);
    const ids = join(dir, 'ids');
    mkdirSync(ids);
    writeFileSync(join(ids, 'G1_tool.json'), '{"1": 0}');
    const server = await fakeJudge(t);
    const result = await passRate([], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server, testIds: ids });
    ok(result, 2);
    assert.match(result.stderr, /--test-ids .*ids: no G1_instruction\.json/);
    assert.equal(server.requests.length, 0);
  });

  test('a converted file that is not JSON: the message names the file, line and column', async (t) => {
    const dir = tempDir(t);
    const converted = join(dir, 'converted');
    mkdirSync(join(converted, MODEL), { recursive: true });
    const file = join(converted, MODEL, `${SET}.json`);
    writeFileSync(file, '{\n  "101": {"query": "x",\n  oops\n}\n');
    const server = await fakeJudge(t);
    const result = await passRate([], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server, converted });
    ok(result, 2);
    assert.ok(result.stderr.includes(file), result.stderr);
    assert.match(result.stderr, /line 3, column 3/);
    assert.equal(server.requests.length, 0);
  });

  test('a converted folder that does not exist', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const result = await passRate([], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server, converted: join(dir, 'nowhere') });
    ok(result, 2);
    assert.match(result.stderr, /--converted .*nowhere: no such folder/);
  });

  test('converted answers outside the test ids are not scored, and said so', async (t) => {
    const dir = tempDir(t);
    const converted = join(dir, 'converted');
    cpSync(CONVERTED, converted, { recursive: true });
    const file = join(converted, MODEL, `${SET}.json`);
    const data = JSON.parse(read(file));
    data['999'] = { ...data['101'], query: 'What is the weather in Quito?' };
    writeFileSync(file, JSON.stringify(data));
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    const result = await passRate(['--evaluate-times', '1'], { out, cache: join(dir, 'cache.jsonl'), server, converted });
    ok(result);
    assert.match(result.stderr, /G1_instruction: 1 converted answers are not in the test ids and are not scored/);
    assert.ok(!server.requests.some((request) => promptOf(request.body).includes('Quito')));
    assert.equal(readResults(resultFiles(out))['999'], undefined);
    assert.equal(readSummary(resultFiles(out)).total, 6);
  });

  test(
    'the unreadable-answer warning names what is missing',
    async (t) => {
      const dir = tempDir(t);
      const server = await fakeJudge(t);
      const result = await passRate(['--evaluate-times', '1'], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), server });
      ok(result);
      assert.match(result.stderr, /"105"\.answer: expected an object/);
      assert.doesNotMatch(result.stderr, /got a undefined/);
    },
  );

  test('a live judge without a key or endpoint is refused', async (t) => {
    const dir = tempDir(t);
    const result = await passRate([], { out: join(dir, 'out'), cache: join(dir, 'cache.jsonl'), env: { OPENAI_API_KEY: '' } });
    ok(result, 2);
    assert.match(result.stderr, /the judge needs an API key/);
  });
});

// ---------------------------------------------------------------------------------------------
// regressions found in review

describe('eval pass-rate: resume, replay and failures (review regressions)', () => {
  test('verdicts resumed from a result JSON without an audit log are kept on the next resume', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    const files = resultFiles(out);
    const cache = join(dir, 'cache.jsonl');
    ok(await passRate(['--evaluate-times', '2'], { out, cache, server }));
    const rate = readSummary(files).rate;
    rmSync(files.log); // as if only upstream's JSON were there
    const asked = server.requests.length;
    ok(await passRate(['--evaluate-times', '2', '--no-judge-cache'], { out, cache, server }));
    ok(await passRate(['--evaluate-times', '2', '--no-judge-cache'], { out, cache, server }));
    assert.equal(server.requests.length, asked, 'nothing judged again');
    assert.equal(readSummary(files).rate, rate);
  });

  test('a torn last line in the audit log does not break the next resumes', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    const files = resultFiles(out);
    ok(await passRate(['--evaluate-times', '1'], { out, cache: join(dir, 'cache.jsonl'), server }));
    writeFileSync(files.log, `${read(files.log)}{"qid":"10`); // a crash mid-write
    ok(await passRate(['--evaluate-times', '2'], { out, cache: join(dir, 'cache.jsonl'), server }));
    const asked = server.requests.length;
    ok(await passRate(['--evaluate-times', '2'], { out, cache: join(dir, 'cache.jsonl'), server }));
    assert.equal(server.requests.length, asked);
    assert.equal(readSummary(files).runs.length, 2);
  });

  test('a replay into the folder it reads from is refused and leaves the log intact', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    const files = resultFiles(out);
    ok(await passRate(['--evaluate-times', '1'], { out, cache: join(dir, 'cache.jsonl'), server }));
    const before = read(files.log);
    const result = await passRate(['--judge', `replay:${files.log}`, '--evaluate-times', '3'], { out, env: { OPENAI_API_KEY: '' } });
    ok(result, 2);
    assert.match(result.stderr, /would be overwritten by this run's results: give another --out/);
    assert.equal(read(files.log), before);
  });

  test('a result file that cannot be written is an error naming it, not a crash', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t);
    const out = join(dir, 'out');
    mkdirSync(resultFiles(out).json, { recursive: true }); // a folder where the JSON goes
    const result = await passRate(['--evaluate-times', '1', '--overwrite'], { out, cache: join(dir, 'cache.jsonl'), server });
    ok(result, 1);
    assert.match(result.stderr, /G1_instruction_fake_dfs\.json: cannot write/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });

  test('the seed is recorded; a replay draws with it, and another --seed is refused', async (t) => {
    const dir = tempDir(t);
    const server = await fakeJudge(t, { check_answer_status: 'Unsure', parse_answer_status: 'Unsure', check_task_solvable: 'Unsure' });
    const out = join(dir, 'out');
    const files = resultFiles(out);
    ok(await passRate(['--evaluate-times', '4', '--seed', '5'], { out, cache: join(dir, 'cache.jsonl'), server }));
    assert.equal(readLog(files).header.seed, 5);
    const replayed = resultFiles(join(dir, 'replayed'));
    ok(await passRate(['--judge', `replay:${files.log}`], { out: join(dir, 'replayed'), env: { OPENAI_API_KEY: '' } }));
    assert.equal(read(replayed.json), read(files.json));
    const refused = await passRate(['--judge', `replay:${files.log}`, '--seed', '6'], { out: join(dir, 'other'), env: { OPENAI_API_KEY: '' } });
    ok(refused, 2);
    assert.match(refused.stderr, /--seed 6: the recorded evaluation drew with seed 5/);
  });
});
