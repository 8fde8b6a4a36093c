/**
 * `toolbench eval preference` end to end through the CLI, against a fake OpenAI-compatible judge
 * (tooleval.md §6, §7; formats.md §6; prompts.md §2).
 *
 * The fixtures (fixtures/eval/preference) hold seven test ids of G1_instruction:
 *   101  reference STATUS:Solved, candidate STATUS:Unsolved (the candidate says PICK_ME)
 *   102  identical answers, both STATUS:Solved
 *   103  only the reference answered
 *   104  both STATUS:Solved, final answers over 1000 characters, candidate says PICK_ME
 *   105  both STATUS:Unsure, candidate says PICK_ME
 *   106  reference STATUS:Unsolved and PICK_ME, candidate with an empty final answer
 *   107  a test id neither model answered
 * The fake judge answers check_answer_status / parse_answer_status with the STATUS marker of the
 * answer in the prompt, check_task_solvable with Solvable, and select_better_answer /
 * choose_preference with the index of the answer whose final answer says PICK_ME.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { runToolbench, type CliResult } from '../helpers/cli.js';
import { startFakeOpenAI, type FakeHandler, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai.js';
import { SKIP_WITHOUT_DATA, dataPath, fixture } from '../helpers/paths.js';

const ROOT = fixture('eval', 'preference');
const CONVERTED = join(ROOT, 'converted');
const TEST_IDS = join(ROOT, 'test_ids');
const PASS_RATE_TOOLBENCH = join(ROOT, 'pass_rate', 'toolbench');
const PASS_RATE_STABLE = join(ROOT, 'pass_rate', 'stable');
const REF = 'ref_model';
const CAND = 'cand_model';
const BASE = `G1_instruction_${REF}_${CAND}`;
const IDS = ['101', '102', '103', '104', '105', '106', '107'];
const TOOL_NAMES = ['get_weather_for_weatherapi', 'get_joke_for_jokes', 'Finish'];

interface Entry {
  query: string;
  available_tools: Record<string, unknown>[];
  answer: { method: string; total_steps: number; final_answer: string; answer_details: unknown[] };
}
const readConverted = (model: string): Record<string, Entry> => JSON.parse(readFileSync(join(CONVERTED, model, 'G1_instruction.json'), 'utf8'));
const ANSWERS = { ref: readConverted(REF), cand: readConverted(CAND) };

/** Python's `s[:1000]` (code points). */
const cut = (text: string): string => Array.from(text).slice(0, 1000).join('');

// ---------------------------------------------------------------------------------------------
// The fake judge

/** Read at every request, so a test can change it between runs. */
interface JudgeBehaviour {
  /** select_better_answer: the first reply to each prompt is this (out-of-range) index. */
  badSelectFirst?: number;
  /** select_better_answer always answers this index. */
  selectAlways?: number;
}

function functionName(body: any): string {
  return body.functions?.[0]?.name ?? body.tool_choice?.function?.name;
}

function promptOf(body: any): string {
  return String(body.messages.at(-1).content);
}

/** The `[q<id>]` tag of the query quoted in a prompt. */
function qidOf(body: any): string | undefined {
  return /\[q(\d+)\]/.exec(body.messages.map((message: any) => message.content).join('\n'))?.[1];
}

function selectAnswers(prompt: string): [any, any] {
  const match = /\nAnswer_0:\n([\s\S]*?)\n\nAnswer_1:\n([\s\S]*?)\n\nGiven above query/.exec(prompt);
  assert.ok(match, `a select_better_answer prompt: ${prompt.slice(0, 200)}`);
  return [JSON.parse(match[1]!), JSON.parse(match[2]!)];
}

function taskOf(prompt: string): string {
  const match = /\nTask:\n([\s\S]*?)\n\nNow give your reason/.exec(prompt);
  assert.ok(match, 'a check_task_solvable prompt');
  return match[1]!;
}

function fnFields(content: string): { task: string; answers: string } {
  const match = /Here is the task description in JSON format:\n([\s\S]*?)\n\nHere are the candidate answers in JSON format:\n([\s\S]*?)\n\nNow choose the preferred answer/.exec(content);
  assert.ok(match, 'a choose_preference prompt');
  return { task: match[1]!, answers: match[2]! };
}

const picked = (answers: readonly any[]): number => Math.max(0, answers.findIndex((answer) => String(answer.final_answer).includes('PICK_ME')));

function fakeJudge(behaviour: JudgeBehaviour = {}): { handler: FakeHandler; problems: string[] } {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const handler: FakeHandler = (body) => {
    const fn = functionName(body);
    const reply = (args: Record<string, unknown>): FakeReply => {
      const text = JSON.stringify(args);
      return body.tools ? { tool_calls: [{ function: { name: fn, arguments: text } }] } : { function_call: { name: fn, arguments: text } };
    };
    const fail = (why: string): FakeReply => {
      problems.push(why);
      return { status: 400, body: { error: { message: why, type: 'invalid_request_error', param: null, code: null } } };
    };
    const prompt = promptOf(body);
    switch (fn) {
      case 'check_answer_status':
      case 'parse_answer_status': {
        const status = /STATUS:(Solved|Unsure|Unsolved)/.exec(prompt.slice(prompt.indexOf('\nAnswer:\n')))?.[1];
        return status ? reply({ answer_status: status, reason: 'fake' }) : fail(`${fn}: no STATUS marker`);
      }
      case 'check_task_solvable':
        return reply({ task_status: 'Solvable', reason: 'fake' });
      case 'select_better_answer': {
        const count = (seen.get(prompt) ?? 0) + 1;
        seen.set(prompt, count);
        if (behaviour.selectAlways !== undefined) return reply({ index: behaviour.selectAlways, reason: 'stuck' });
        if (behaviour.badSelectFirst !== undefined && count === 1) return reply({ index: behaviour.badSelectFirst, reason: 'out of range' });
        return reply({ index: picked(selectAnswers(prompt)), reason: 'fake' });
      }
      case 'choose_preference':
        return reply({ preference: picked(JSON.parse(fnFields(prompt).answers)) });
      default:
        return fail(`unexpected function ${fn}`);
    }
  };
  return { handler, problems };
}

interface Call {
  readonly fn: string;
  readonly qid: string | undefined;
  readonly body: any;
}

function callsOf(server: FakeOpenAI, from = 0): Call[] {
  return server.requests.slice(from).map((request) => ({ fn: functionName(request.body), qid: qidOf(request.body), body: request.body }));
}

// ---------------------------------------------------------------------------------------------
// Running the command

interface Bench {
  readonly dir: string;
  readonly server: FakeOpenAI;
  readonly problems: string[];
  readonly env: Record<string, string>;
  run(out: string, ...args: string[]): Promise<CliResult>;
  /** Closes the fake judge (the folder stays). */
  stopServer(): Promise<void>;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolbench-preference-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openBench(behaviour: JudgeBehaviour = {}): Promise<Bench & { close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'toolbench-preference-'));
  const { handler, problems } = fakeJudge(behaviour);
  const server = await startFakeOpenAI(handler);
  const env = { OPENAI_API_KEY: 'k', TOOLBENCH_JUDGE_CACHE: join(dir, 'cache.jsonl') };
  let stopped = false;
  return {
    dir,
    server,
    problems,
    env,
    run: (out, ...args) =>
      runToolbench(
        ['eval', 'preference', '--converted', CONVERTED, '--reference', REF, '--candidate', CAND, '--test-ids', TEST_IDS, '--out', join(dir, out), '--base-url', server.baseUrl, '--timeout', '5', '--workers', '3', ...args],
        env,
      ),
    stopServer: async () => {
      if (!stopped) await server.close();
      stopped = true;
    },
    close: async () => {
      if (!stopped) await server.close();
      stopped = true;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function bench(t: TestContext, behaviour: JudgeBehaviour = {}): Promise<Bench> {
  const opened = await openBench(behaviour);
  t.after(() => opened.close());
  return opened;
}

function ok(result: CliResult, bench?: Bench): void {
  assert.equal(result.code, 0, `exit code 0\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  if (bench) assert.deepEqual(bench.problems, [], 'the fake judge saw only expected requests');
}

type Votes = Record<string, Record<string, number | string>>;
const readVotes = (dir: string, out: string): Votes => JSON.parse(readFileSync(join(dir, out, `${BASE}.json`), 'utf8'));
const readText = (dir: string, out: string, suffix: string): string => readFileSync(join(dir, out, `${BASE}${suffix}`), 'utf8');

/** [reference votes, candidate votes]. */
const tally = (votes: Votes, qid: string): [number, number] => [votes[qid]![REF] as number, votes[qid]![CAND] as number];
const flags = (votes: Votes, qid: string, rounds: number): string[] => Array.from({ length: rounds }, (_, round) => String(votes[qid]![`round_${round}`]));

/** Python csv (tab, QUOTE_MINIMAL, "\r\n") read back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"' && field === '') quoted = true;
    else if (char === '\t') {
      row.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += char;
  }
  assert.equal(field, '', 'the CSV ends with a line end');
  return rows;
}

// ---------------------------------------------------------------------------------------------

describe('eval preference: the default evaluator (tooleval.md §6.3)', () => {
  test('the decision tree: which judge functions each comparison asks for', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '1'), b);
    const byQuery = new Map<string, string[]>(IDS.map((qid) => [qid, []]));
    for (const call of callsOf(b.server)) byQuery.get(call.qid ?? '?')!.push(call.fn);
    assert.deepEqual(Object.fromEntries(byQuery), {
      // exactly one Solved: that answer, no comparison
      '101': ['check_answer_status', 'check_answer_status'],
      // identical answers: a seeded coin instead of select_better_answer
      '102': ['check_answer_status', 'check_answer_status'],
      // a missing answer: no judge at all
      '103': [],
      // two Solved: the task is "solved before", no check_task_solvable call
      '104': ['check_answer_status', 'check_answer_status', 'select_better_answer'],
      // two Unsure (each confirmed by parse_answer_status): check_task_solvable, then select
      '105': ['check_answer_status', 'parse_answer_status', 'check_answer_status', 'parse_answer_status', 'check_task_solvable', 'select_better_answer'],
      // two Unsolved (the empty final answer without a call): check_task_solvable, then select
      '106': ['check_answer_status', 'check_task_solvable', 'select_better_answer'],
      '107': [],
    });
    const votes = readVotes(b.dir, 'out');
    assert.deepEqual(tally(votes, '101'), [1, 0]);
    assert.deepEqual(tally(votes, '103'), [1, 0]);
    assert.deepEqual(tally(votes, '104'), [0, 1]);
    assert.deepEqual(tally(votes, '105'), [0, 1]);
    assert.deepEqual(tally(votes, '106'), [1, 0]);
    assert.deepEqual(tally(votes, '107'), [0, 0]);
    assert.equal(tally(votes, '102')[0] + tally(votes, '102')[1], 1, 'the coin gives the identical answers one vote');
  });

  test('the judge request: upstream model and settings, the forced function, a reason only for select_better_answer', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '1'), b);
    const calls = callsOf(b.server);
    for (const { fn, body } of calls) {
      assert.equal(body.model, 'gpt-3.5-turbo-16k');
      assert.equal(body.max_tokens, 1000);
      assert.equal(body.temperature, 0.2);
      assert.equal(body.timeout, undefined, 'the timeout is a client setting, not a body field');
      assert.deepEqual(body.function_call, { name: fn });
      assert.equal(body.functions.length, 1);
      assert.equal(body.functions[0].name, fn);
      assert.equal(body.tools, undefined);
      assert.equal(body.messages.length, 1);
      assert.equal(body.messages[0].role, 'user');
    }
    const schema = (fn: string): any => calls.find((call) => call.fn === fn)!.body.functions[0];
    assert.deepEqual(schema('check_answer_status').parameters.required, ['answer_status']);
    assert.deepEqual(schema('check_task_solvable').parameters.required, ['task_status']);
    assert.deepEqual(schema('select_better_answer').parameters.required, ['index', 'reason']);
    assert.deepEqual(schema('select_better_answer').parameters.properties.reason, { type: 'string', description: 'explain your answer.' });
  });

  test('select_better_answer returning an index outside [0, 1] is asked again', async (t) => {
    const b = await bench(t, { badSelectFirst: 2 });
    ok(await b.run('out', '--evaluate-times', '1'), b);
    const selects = callsOf(b.server).filter((call) => call.fn === 'select_better_answer');
    assert.deepEqual(selects.map((call) => call.qid).sort(), ['104', '104', '105', '105', '106', '106']);
    const votes = readVotes(b.dir, 'out');
    assert.deepEqual([tally(votes, '104'), tally(votes, '105'), tally(votes, '106')], [[0, 1], [0, 1], [1, 0]]);
    const log = readText(b.dir, 'out', '.judge.jsonl').trim().split('\n').slice(1).map((line) => JSON.parse(line));
    const rejected = log.flatMap((entry) => entry.calls).filter((call: any) => call.rejected !== undefined);
    assert.equal(rejected.length, 3);
    for (const call of rejected) assert.match(call.rejected, /index must be one of 0, 1, got 2/);
    const summary = JSON.parse(readText(b.dir, 'out', '.summary.json'));
    assert.equal(summary.errors, 0);
  });

  test('a judge that never gives a usable index: that round has no vote, the run is partial (exit 3); a rerun judges only that round', async (t) => {
    const behaviour: JudgeBehaviour = { selectAlways: -1 };
    const b = await bench(t, behaviour);
    const result = await b.run('out', '--evaluate-times', '1', '--retries', '1');
    assert.equal(result.code, 3, result.stderr);
    assert.deepEqual(b.problems, []);
    assert.match(result.stderr, /select_better_answer: no usable judge reply in 2 attempt/);
    assert.equal(callsOf(b.server).filter((call) => call.fn === 'select_better_answer').length, 6, 'two attempts for each of 104, 105, 106');
    const votes = readVotes(b.dir, 'out');
    // a query with no decided round is not written: upstream would read it back as a decided tie
    for (const qid of ['104', '105', '106']) assert.equal(votes[qid], undefined);
    assert.deepEqual(flags(votes, '101', 1), ['complete']);
    assert.equal(JSON.parse(readText(b.dir, 'out', '.summary.json')).errors, 3);

    // the judge recovers: the rerun (no --overwrite) asks only the three comparisons again; the
    // status checks come from the judge cache
    delete behaviour.selectAlways;
    const asked = b.server.requests.length;
    ok(await b.run('out', '--evaluate-times', '1', '--retries', '1'), b);
    assert.deepEqual(callsOf(b.server, asked).map((call) => `${call.qid}:${call.fn}`).sort(), ['104:select_better_answer', '105:select_better_answer', '106:select_better_answer']);
    const after = readVotes(b.dir, 'out');
    assert.deepEqual([tally(after, '104'), tally(after, '105'), tally(after, '106')], [[0, 1], [0, 1], [1, 0]]);
    assert.deepEqual(flags(after, '104', 1), ['complete']);
    assert.equal(JSON.parse(readText(b.dir, 'out', '.summary.json')).errors, 0);
  });
});

describe('eval preference: answer order and statuses (tooleval.md §6.2, quirk 1)', () => {
  const SEEDS = ['0', '1', '2', '3', '4', '5'];
  let shared: Bench & { close(): Promise<void> };
  /** Per seed: the select_better_answer calls of the run without pass-rate statuses (no judge cache: every call is a request). */
  const selects = new Map<string, Call[]>();
  const plainVotes = new Map<string, Votes>();

  before(async () => {
    shared = await openBench();
    for (const seed of SEEDS) {
      const from = shared.server.requests.length;
      ok(await shared.run(`plain-${seed}`, '--seed', seed, '--evaluate-times', '3', '--no-judge-cache'), shared);
      selects.set(seed, callsOf(shared.server, from).filter((call) => call.fn === 'select_better_answer'));
      plainVotes.set(seed, readVotes(shared.dir, `plain-${seed}`));
    }
  });
  after(() => shared?.close());

  /** Whether Answer_0 of a select prompt is the candidate's. */
  const candidateFirst = (call: Call): boolean => {
    const [first, second] = selectAnswers(promptOf(call.body));
    const cand = cut(ANSWERS.cand[call.qid!]!.answer.final_answer);
    const ref = cut(ANSWERS.ref[call.qid!]!.answer.final_answer);
    assert.ok((first.final_answer === cand && second.final_answer === ref) || (first.final_answer === ref && second.final_answer === cand), 'the two answers, in some order');
    return first.final_answer === cand;
  };

  test('the answers are shown in a seeded random order, and the vote maps back to the model', () => {
    let swapped = 0;
    let straight = 0;
    for (const seed of SEEDS) {
      for (const call of selects.get(seed)!) {
        if (candidateFirst(call)) swapped++;
        else straight++;
      }
      const votes = plainVotes.get(seed)!;
      assert.deepEqual(tally(votes, '104'), [0, 3], `seed ${seed}: 104 goes to the candidate's PICK_ME answer`);
      assert.deepEqual(tally(votes, '105'), [0, 3], `seed ${seed}: 105`);
      assert.deepEqual(tally(votes, '106'), [3, 0], `seed ${seed}: 106 goes to the reference's PICK_ME answer`);
      assert.deepEqual(tally(votes, '101'), [3, 0], `seed ${seed}: 101, the only Solved answer`);
    }
    assert.equal(swapped + straight, SEEDS.length * 3 * 3);
    assert.ok(swapped > 0 && straight > 0, `both orders occur (${swapped} swapped, ${straight} not)`);
  });

  test('the same seed gives the same order and votes', async () => {
    const from = shared.server.requests.length;
    ok(await shared.run('again-3', '--seed', '3', '--evaluate-times', '3', '--no-judge-cache'), shared);
    const again = callsOf(shared.server, from).filter((call) => call.fn === 'select_better_answer');
    const key = (call: Call): string => `${call.qid}:${candidateFirst(call)}`;
    assert.deepEqual(again.map(key).sort(), selects.get('3')!.map(key).sort());
    assert.equal(readText(shared.dir, 'again-3', '.json'), readText(shared.dir, 'plain-3', '.json'));
  });

  test('with --use-pass-rate the pass-rate statuses follow their answers whatever the order', async () => {
    // 104 is decided by the statuses alone here (reference Solved, candidate Unsolved, pass-rate
    // labels tied so the shortcut does not fire); upstream would credit the candidate whenever the
    // answers are swapped. Make sure some of these (seed, round) pairs are swapped.
    const swapped104 = SEEDS.flatMap((seed) => selects.get(seed)!.filter((call) => call.qid === '104').map(candidateFirst)).filter(Boolean).length;
    assert.ok(swapped104 > 0, 'some rounds of 104 show the candidate first');
    for (const seed of SEEDS) {
      const from = shared.server.requests.length;
      ok(await shared.run(`statuses-${seed}`, '--seed', seed, '--evaluate-times', '3', '--pass-rate', PASS_RATE_TOOLBENCH, '--use-pass-rate', '--no-judge-cache'), shared);
      const calls = callsOf(shared.server, from);
      const votes = readVotes(shared.dir, `statuses-${seed}`);
      // statuses [Solved, Unsolved]: the reference, without a call
      assert.deepEqual(tally(votes, '104'), [3, 0], `seed ${seed}: 104`);
      assert.deepEqual(flags(votes, '104', 3), ['complete', 'complete', 'complete']);
      // statuses [Unsure, Unsolved]: the reference, without a call
      assert.deepEqual(tally(votes, '105'), [3, 0], `seed ${seed}: 105`);
      // statuses [Unsolved, Unsolved] and the reference's task status Solvable: only select_better_answer
      assert.deepEqual(tally(votes, '106'), [3, 0], `seed ${seed}: 106`);
      // 101: reference passed, candidate failed: the pass-rate shortcut
      assert.deepEqual(tally(votes, '101'), [3, 0]);
      assert.deepEqual(flags(votes, '101', 3), ['incomplete', 'incomplete', 'incomplete']);
      const fns = (qid: string): string[] => calls.filter((call) => call.qid === qid).map((call) => call.fn);
      assert.deepEqual(fns('101'), []);
      assert.deepEqual(fns('104'), []);
      assert.deepEqual(fns('105'), []);
      assert.deepEqual(fns('106'), ['select_better_answer', 'select_better_answer', 'select_better_answer']);
      // 102 has no pass-rate records: judged as without the flag
      assert.deepEqual(fns('102'), Array(6).fill('check_answer_status'));
    }
  });
});

describe('eval preference: the pass-rate shortcut', () => {
  test('ToolBench pass-rate JSON: reference passed, candidate failed: no judge, the round flags stay incomplete', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '2', '--pass-rate', PASS_RATE_TOOLBENCH), b);
    const calls = callsOf(b.server);
    assert.equal(calls.filter((call) => call.qid === '101').length, 0);
    const votes = readVotes(b.dir, 'out');
    assert.deepEqual(tally(votes, '101'), [2, 0]);
    assert.deepEqual(flags(votes, '101', 2), ['incomplete', 'incomplete']);
    // without --use-pass-rate the statuses are judged again: 104 (labels tied) goes to the judge
    assert.deepEqual(tally(votes, '104'), [0, 2]);
    assert.deepEqual(flags(votes, '104', 2), ['complete', 'complete']);
    assert.ok(calls.some((call) => call.qid === '104' && call.fn === 'check_answer_status'));
    // 106: both failed: no shortcut
    assert.ok(calls.some((call) => call.qid === '106'));
  });

  test('StableToolBench layout (<model>/<set>_<model>.json, is_solved per run): the majority status fires the shortcut (quirk 2 fixed)', async (t) => {
    const b = await bench(t);
    b.env['EVAL_MODEL'] = 'stable-judge';
    ok(await b.run('out', '--protocol', 'stable', '--evaluate-times', '2', '--pass-rate', PASS_RATE_STABLE), b);
    const calls = callsOf(b.server);
    const votes = readVotes(b.dir, 'out');
    // 101: majority Solved vs majority Unsolved
    assert.deepEqual(tally(votes, '101'), [2, 0]);
    assert.deepEqual(flags(votes, '101', 2), ['incomplete', 'incomplete']);
    // 104: majority Unsolved vs majority Solved: the candidate
    assert.deepEqual(tally(votes, '104'), [0, 2]);
    assert.deepEqual(flags(votes, '104', 2), ['incomplete', 'incomplete']);
    assert.equal(calls.filter((call) => call.qid === '101' || call.qid === '104').length, 0);
    // 105 (reference mostly Unsure) and 106 (reference tied): no label, judged
    assert.ok(calls.some((call) => call.qid === '105'));
    assert.ok(calls.some((call) => call.qid === '106'));
    assert.deepEqual(flags(votes, '105', 2), ['complete', 'complete']);
    // StableToolBench asks with tools + tool_choice, the model named by EVAL_MODEL
    for (const { fn, body } of calls) {
      assert.equal(body.model, 'stable-judge');
      assert.equal(body.functions, undefined);
      assert.equal(body.function_call, undefined);
      assert.equal(body.tools.length, 1);
      assert.equal(body.tools[0].type, 'function');
      assert.equal(body.tools[0].function.name, fn);
      assert.deepEqual(body.tool_choice, { type: 'function', function: { name: fn } });
    }
  });
});

describe('eval preference: missing answers and the summary', () => {
  test('a missing answer votes for the other model every round without a judge call; ties are counted on their own', async (t) => {
    const b = await bench(t);
    const result = await b.run('out', '--evaluate-times', '2', '--json');
    ok(result, b);
    const calls = callsOf(b.server);
    assert.equal(calls.filter((call) => call.qid === '103' || call.qid === '107').length, 0);
    const votes = readVotes(b.dir, 'out');
    assert.deepEqual(tally(votes, '103'), [2, 0]);
    assert.deepEqual(flags(votes, '103', 2), ['incomplete', 'incomplete']);
    assert.deepEqual(tally(votes, '107'), [0, 0], 'no answer at all: no vote');
    assert.deepEqual(flags(votes, '107', 2), ['incomplete', 'incomplete']);

    let wins = 0;
    let ties = 0;
    let losses = 0;
    for (const qid of IDS) {
      const [ref, cand] = tally(votes, qid);
      if (cand > ref) wins++;
      else if (cand < ref) losses++;
      else ties++;
    }
    assert.ok(ties >= 1 && wins >= 2 && losses >= 3);
    const summary = JSON.parse(readText(b.dir, 'out', '.summary.json'));
    assert.equal(summary.kind, 'preference');
    assert.equal(summary.total, 7);
    assert.deepEqual([summary.wins, summary.ties, summary.losses], [wins, ties, losses]);
    assert.ok(Math.abs(summary.win_rate - (wins / 7) * 100) < 1e-9, `win_rate ${summary.win_rate}`);
    assert.ok(Math.abs(summary.tie_rate - (ties / 7) * 100) < 1e-9, `tie_rate ${summary.tie_rate}`);
    assert.deepEqual(summary.missing, { reference: ['107'], candidate: ['103', '107'] });
    assert.equal(summary.evaluate_times, 2);
    assert.equal(summary.errors, 0);
    const printed = JSON.parse(result.stdout.trim());
    assert.equal(printed.wins, wins);
    assert.equal(printed.files.csv, join(b.dir, 'out', `${BASE}.csv`));

    // the CSV is written all the same (upstream's writer fails here, quirk 4)
    const rows = parseCsv(readText(b.dir, 'out', '.csv'));
    const row = (qid: string): string[] => rows.find((cells) => cells[7] === qid)!;
    assert.deepEqual(row('103').slice(4), ['', '', '1', '103', REF, CAND]);
    assert.equal(row('103')[0], ANSWERS.ref['103']!.query);
    assert.match(row('103')[2]!, /^Step 1: \{'name': 'get_weather_for_weatherapi'/);
    assert.deepEqual(row('107'), ['', '', '', '', '', '', '3', '107', REF, CAND]);
  });

  test('without --test-set, the sets with converted files are evaluated; the text report names the counts', async (t) => {
    const b = await bench(t);
    const result = await b.run('out', '--evaluate-times', '1');
    ok(result, b);
    assert.match(result.stdout + result.stderr, /G1_instruction: cand_model vs ref_model: win rate [\d.]+% .*ties [\d.]+% \(\d+\/\d+\/\d+ of 7, 1 rounds/);
  });
});

describe('eval preference: result files (formats.md §6)', () => {
  test('JSON: ref, cand, round_0..round_2 per test id, indent 4; CSV: tab, \\r\\n, upstream header, labels 1/2/3 (--evaluate-times 3, quirk 3)', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '3'), b);
    const json = readText(b.dir, 'out', '.json');
    const votes = JSON.parse(json) as Votes;
    assert.deepEqual(Object.keys(votes), IDS);
    const c = '"complete"';
    const i = '"incomplete"';
    const expected: [string, number, number, string][] = [
      ['101', 3, 0, c],
      ['102', ...tally(votes, '102'), c],
      ['103', 3, 0, i],
      ['104', 0, 3, c],
      ['105', 0, 3, c],
      ['106', 3, 0, c],
      ['107', 0, 0, i],
    ];
    const text = `{\n${expected
      .map(([qid, ref, cand, flag]) => `    "${qid}": {\n        "${REF}": ${ref},\n        "${CAND}": ${cand},\n        "round_0": ${flag},\n        "round_1": ${flag},\n        "round_2": ${flag}\n    }`)
      .join(',\n')}\n}`;
    assert.equal(json, text);
    assert.equal(tally(votes, '102')[0] + tally(votes, '102')[1], 3);

    const csv = readText(b.dir, 'out', '.csv');
    assert.ok(csv.startsWith('query\tavailable_tools\tref_model_intermediate_steps\tref_model_final_step\toutput_model_intermediate_steps\toutput_model_final_step\tpreference_label\tquery_id\tref_model\toutput_model\r\n'));
    assert.ok(csv.endsWith('\r\n'));
    const rows = parseCsv(csv);
    assert.equal(rows.length, 8);
    for (const cells of rows) assert.equal(cells.length, 10);
    assert.deepEqual(rows.slice(1).map((cells) => cells[7]), IDS);
    const label = (qid: string): string => rows.find((cells) => cells[7] === qid)![6]!;
    assert.deepEqual(['101', '103', '104', '105', '106', '107'].map(label), ['1', '1', '2', '2', '1', '3']);
    const [ref102, cand102] = tally(votes, '102');
    assert.equal(label('102'), ref102 > cand102 ? '1' : '2');
    const row104 = rows.find((cells) => cells[7] === '104')!;
    assert.equal(row104[0], ANSWERS.ref['104']!.query);
    assert.equal(row104[1], `[${TOOL_NAMES.map((name) => `'${name}'`).join(', ')}]`);
    assert.equal(row104[2]!.split('\n').length, 2, 'the reference made two tool steps (weather, Finish)');
    assert.match(row104[3]!, /^Final step: \{'name': 'Finish', 'arguments': /);
    assert.equal(row104[4]!.split('\n').length, 3);
    assert.deepEqual(row104.slice(8), [REF, CAND]);
    // the CSV cells hold the whole answer: the 1000-character cut is for the judge only
    assert.ok(row104[3]!.length > 1500);
  });
});

describe('eval preference: what the judge is shown (§6.2)', () => {
  test('select_better_answer: final_answer cut to 1000 characters (code points), method removed; check_task_solvable: tool description and parameters removed', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '1'), b);
    const calls = callsOf(b.server);
    const select104 = calls.find((call) => call.qid === '104' && call.fn === 'select_better_answer')!;
    // json.dumps with ensure_ascii: the character outside the BMP as a surrogate pair of escapes
    assert.ok(promptOf(select104.body).includes('\\ud834\\udd1e'), 'non-ASCII escaped as Python writes it');
    for (const shown of selectAnswers(promptOf(select104.body))) {
      assert.deepEqual(Object.keys(shown), ['total_steps', 'final_answer', 'answer_details'], 'method removed, order kept');
      const model = shown.final_answer.includes('CAND-104') ? ANSWERS.cand : ANSWERS.ref;
      const original = model['104']!.answer;
      assert.ok(Array.from(original.final_answer).length > 1000);
      assert.equal(Array.from(shown.final_answer as string).length, 1000);
      assert.equal(shown.final_answer, cut(original.final_answer));
      assert.notEqual(shown.final_answer, original.final_answer.slice(0, 1000), 'the fixture has a character outside the BMP before the cut');
      assert.equal(shown.total_steps, original.total_steps);
      assert.deepEqual(shown.answer_details, original.answer_details);
    }
    // check_is_solved inside the comparison sees the answers as prepared (upstream mutates them first)
    for (const call of calls.filter((item) => item.qid === '104' && item.fn === 'check_answer_status')) {
      const answer = /\nAnswer:\n([\s\S]*)\n\nNow give your reason/.exec(promptOf(call.body))![1]!;
      assert.ok([cut(ANSWERS.ref['104']!.answer.final_answer), cut(ANSWERS.cand['104']!.answer.final_answer)].includes(answer));
    }
    for (const qid of ['105', '106']) {
      const task = taskOf(promptOf(calls.find((call) => call.qid === qid && call.fn === 'check_task_solvable')!.body));
      assert.equal(task, `{"query": ${JSON.stringify(ANSWERS.ref[qid]!.query)}, "available_tools": [${TOOL_NAMES.map((name) => `{"name": "${name}"}`).join(', ')}]}`);
      assert.ok(ANSWERS.ref[qid]!.available_tools.every((tool) => 'description' in tool && 'parameters' in tool), 'the fixture tools have both keys');
    }
    // parse_answer_status gets the whole prepared answer as JSON, without method
    const parse = calls.find((call) => call.qid === '105' && call.fn === 'parse_answer_status')!;
    const shown = JSON.parse(/\nAnswer:\n([\s\S]*)\n\nNow you are requested/.exec(promptOf(parse.body))![1]!);
    assert.deepEqual(Object.keys(shown), ['total_steps', 'final_answer', 'answer_details']);
  });
});

describe('eval preference: the fn evaluator (tooleval.md §7)', () => {
  test('one choose_preference request per round with the template\'s system and user messages; the index maps back', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluator', 'tooleval_gpt-3.5-turbo_fn', '--evaluate-times', '2'), b);
    const calls = callsOf(b.server);
    assert.deepEqual(calls.map((call) => call.fn), Array(10).fill('choose_preference'));
    assert.deepEqual(calls.map((call) => call.qid).sort(), ['101', '101', '102', '102', '104', '104', '105', '105', '106', '106']);
    let swapped = 0;
    for (const { qid, body } of calls) {
      assert.equal(body.model, 'gpt-3.5-turbo-16k');
      assert.equal(body.max_tokens, 100);
      assert.equal(body.temperature, 0);
      assert.deepEqual(body.function_call, { name: 'choose_preference' });
      assert.deepEqual(body.functions.map((fn: any) => fn.name), ['choose_preference']);
      assert.deepEqual(body.functions[0].parameters.required, ['preference']);
      assert.equal(body.messages.length, 2);
      assert.deepEqual(body.messages[0], { role: 'system', content: 'You are a helpful annotator, that help user to annotate data.' });
      assert.equal(body.messages[1].role, 'user');
      assert.match(body.messages[1].content, /^Giving task description and candidate answers, I want you to choose one preferred answer/);
      assert.match(body.messages[1].content, /return the index in range \[0,1\]\.$/);
      const fields = fnFields(body.messages[1].content);
      assert.deepEqual(JSON.parse(fields.task), { query: ANSWERS.ref[qid!]!.query, available_tools: TOOL_NAMES.map((name) => ({ name })) });
      const answers = JSON.parse(fields.answers);
      assert.equal(answers.length, 2);
      for (const answer of answers) assert.deepEqual(Object.keys(answer), ['total_steps', 'final_answer', 'answer_details']);
      if (answers[0].final_answer === cut(ANSWERS.cand[qid!]!.answer.final_answer) && qid !== '102') swapped++;
    }
    assert.ok(swapped > 0, 'some answers shown in swapped order');
    const votes = readVotes(b.dir, 'out');
    assert.deepEqual(tally(votes, '101'), [0, 2], 'the fn judge picks the PICK_ME answer, whatever its status');
    assert.deepEqual(tally(votes, '104'), [0, 2]);
    assert.deepEqual(tally(votes, '105'), [0, 2]);
    assert.deepEqual(tally(votes, '106'), [2, 0]);
    assert.deepEqual(tally(votes, '103'), [2, 0]);
    assert.deepEqual(flags(votes, '104', 2), ['complete', 'complete']);
  });
});

describe('eval preference: replay and resume', () => {
  test('--judge replay:<judge.jsonl> reproduces the JSON and CSV byte for byte without a server', async (t) => {
    const b = await bench(t, { badSelectFirst: 5 });
    ok(await b.run('live', '--evaluate-times', '2', '--seed', '7'), b);
    await b.stopServer();
    const log = join(b.dir, 'live', `${BASE}.judge.jsonl`);
    const result = await runToolbench(
      ['eval', 'preference', '--converted', CONVERTED, '--reference', REF, '--candidate', CAND, '--test-ids', TEST_IDS, '--out', join(b.dir, 'replayed'), '--seed', '7', '--judge', `replay:${log}`],
      { TOOLBENCH_JUDGE_CACHE: join(b.dir, 'unused-cache.jsonl') },
    );
    ok(result);
    assert.equal(readText(b.dir, 'replayed', '.json'), readText(b.dir, 'live', '.json'));
    assert.equal(readText(b.dir, 'replayed', '.csv'), readText(b.dir, 'live', '.csv'));
    const live = JSON.parse(readText(b.dir, 'live', '.summary.json'));
    const replayed = JSON.parse(readText(b.dir, 'replayed', '.summary.json'));
    assert.deepEqual({ ...replayed, judge: undefined }, { ...live, judge: undefined });
    assert.equal(replayed.evaluate_times, 2, 'the rounds are read from the log');
  });

  test('a second run without --overwrite resumes from the audit log: zero requests, same files', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '2'), b);
    const first = { json: readText(b.dir, 'out', '.json'), csv: readText(b.dir, 'out', '.csv') };
    const asked = b.server.requests.length;
    assert.ok(asked > 0);
    // resume: the log has every round (no cache, so the cache cannot be what answers)
    ok(await b.run('out', '--evaluate-times', '2', '--no-judge-cache'), b);
    assert.equal(b.server.requests.length, asked, 'resumed without asking the judge');
    assert.equal(readText(b.dir, 'out', '.json'), first.json);
    assert.equal(readText(b.dir, 'out', '.csv'), first.csv);
    // --overwrite judges again, answered from the judge cache
    ok(await b.run('out', '--evaluate-times', '2', '--overwrite'), b);
    assert.equal(b.server.requests.length, asked, 'every reply came from the cache');
    assert.equal(readText(b.dir, 'out', '.json'), first.json);
    // --overwrite without the cache asks again, with the same result
    ok(await b.run('out', '--evaluate-times', '2', '--overwrite', '--no-judge-cache'), b);
    assert.equal(b.server.requests.length, 2 * asked);
    assert.equal(readText(b.dir, 'out', '.json'), first.json);
    assert.equal(readText(b.dir, 'out', '.csv'), first.csv);
  });

  test('a third round added later: only the new round is judged', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '2', '--no-judge-cache'), b);
    const asked = b.server.requests.length;
    ok(await b.run('out', '--evaluate-times', '3', '--no-judge-cache'), b);
    assert.ok(b.server.requests.length > asked);
    assert.ok(b.server.requests.length - asked < asked, 'one round, not three');
    const votes = readVotes(b.dir, 'out');
    assert.deepEqual(tally(votes, '104'), [0, 3]);
    assert.deepEqual(flags(votes, '104', 3), ['complete', 'complete', 'complete']);
  });
});

describe('eval preference: resuming with fewer rounds', () => {
  test('a resumed run with a smaller --evaluate-times counts only its rounds (not the later rounds in the log)', async (t) => {
    const b = await bench(t);
    ok(await b.run('out', '--evaluate-times', '3'), b);
    ok(await b.run('out', '--evaluate-times', '2'), b);
    const votes = readVotes(b.dir, 'out');
    for (const qid of ['101', '102', '103', '104', '105', '106']) {
      const [ref, cand] = tally(votes, qid);
      assert.equal(ref + cand, 2, `${qid}: one vote per round of 2`);
    }
    assert.deepEqual(tally(votes, '104'), [0, 2]);
    const summary = JSON.parse(readText(b.dir, 'out', '.summary.json'));
    assert.equal(summary.evaluate_times, 2);
    assert.equal(summary.rounds.length, 2);
  });
});

describe('eval preference: conformance with StableToolBench data_example', () => {
  test('replay of the upstream preference JSON writes the upstream JSON and CSV byte for byte', { skip: SKIP_WITHOUT_DATA }, async (t) => {
    const out = tempDir(t);
    const upstream = dataPath('stabletoolbench', 'data_example', 'preference_results');
    const result = await runToolbench(
      [
        'eval', 'preference',
        '--judge', `replay:${join(upstream, 'G1_instruction_virtual_chatgpt_cot_virtual_chatgpt_dfs.json')}`,
        '--protocol', 'stable',
        '--reference', 'virtual_chatgpt_cot',
        '--candidate', 'virtual_chatgpt_dfs',
        '--converted', dataPath('stabletoolbench', 'data_example', 'model_predictions_converted'),
        '--test-ids', dataPath('stabletoolbench', 'solvable_queries_example', 'test_query_ids'),
        '--out', out,
        '--json',
      ],
      { TOOLBENCH_JUDGE_CACHE: join(out, 'cache.jsonl') },
    );
    ok(result);
    const name = 'G1_instruction_virtual_chatgpt_cot_virtual_chatgpt_dfs';
    assert.ok(readFileSync(join(out, `${name}.json`)).equals(readFileSync(join(upstream, `${name}.json`))), 'JSON byte for byte');
    assert.ok(readFileSync(join(out, `${name}.csv`)).equals(readFileSync(join(upstream, `${name}.csv`))), 'CSV byte for byte');
    const summary = JSON.parse(result.stdout.trim());
    assert.deepEqual([summary.wins, summary.ties, summary.losses, summary.total], [3, 0, 0, 3]);
    assert.equal(summary.win_rate, 100);
    assert.equal(summary.evaluate_times, 3);
  });
});

describe('eval preference: usage errors', () => {
  const common = ['eval', 'preference', '--converted', CONVERTED, '--test-ids', TEST_IDS, '--base-url', 'http://127.0.0.1:9/v1'];

  test('--use-pass-rate without --pass-rate', async (t) => {
    const out = tempDir(t);
    const result = await runToolbench([...common, '--reference', REF, '--candidate', CAND, '--out', out, '--use-pass-rate'], { OPENAI_API_KEY: 'k', TOOLBENCH_JUDGE_CACHE: join(out, 'cache.jsonl') });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--use-pass-rate needs --pass-rate/);
  });

  test('--reference equal to --candidate', async (t) => {
    const out = tempDir(t);
    const result = await runToolbench([...common, '--reference', REF, '--candidate', REF, '--out', out], { OPENAI_API_KEY: 'k', TOOLBENCH_JUDGE_CACHE: join(out, 'cache.jsonl') });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--reference and --candidate are both ref_model/);
  });
});
