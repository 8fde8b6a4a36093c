/**
 * `toolbench preprocess toolllama` (preprocess-and-train.md §4, formats.md §9, prompts.md §1.9):
 * the expected instances below are written by hand from the spec for fixtures/preprocess/answers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sftInstances, type SftInstance } from '../../src/preprocess/toolllama.js';
import { readJsonFile } from '../../src/util/json-file.js';
import type { PyValue } from '../../src/util/py-value.js';
import { runToolbench } from '../helpers/cli.js';
import { SKIP_WITHOUT_DATA, dataPath, fixture } from '../helpers/paths.js';

const ANSWERS = fixture('preprocess', 'answers');
const answer = (name: string): PyValue => readJsonFile(join(ANSWERS, name));

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-preprocess-toolllama-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let runs = 0;
function freshFile(name = 'out.json'): string {
  const dir = join(scratch, `run-${++runs}`);
  mkdirSync(dir);
  return join(dir, name);
}
const read = (file: string): string => readFileSync(file, 'utf8');

// ---------------------------------------------------------------------------------------------
// The system prompt of answers 1, 2, 4, 5 and 8 after process_system_message: the format
// instruction inserted after "…excute your step." and the Python repr of the function list
// appended ('…it\'s…' because that string holds both quotes; \n escaped; é, –, 中文 and 😀 raw).
const FUNCTIONS_REPR = String.raw`[{'name': 'search_for_cafe_tool', 'description': 'This is the subfunction for tool "café_tool". The description of this function is: "Find cafés – it\'s 中文 😀"', 'parameters': {'type': 'object', 'properties': {'city': {'type': 'string', 'description': 'City name', 'example_value': 'Paris'}}, 'required': ['city'], 'optional': []}}, {'name': 'Finish', 'description': 'If you believe that you have obtained a result, call this function.\nRemember: you must ALWAYS call it.', 'parameters': {'type': 'object', 'properties': {'return_type': {'type': 'string', 'enum': ['give_answer', 'give_up_and_restart']}, 'final_answer': {'type': 'string', 'description': 'You should have this field if "return_type"=="give_answer"'}}, 'required': ['return_type']}}]`;
const SYSTEM =
  'You are AutoGPT, you can use many tools(functions) to do the following task.\n' +
  'At each step, you need to give your thought to analyze the status now and what to do next, with a function call to actually excute your step.' +
  ' Your output should follow this format:\nThought:\nAction\nAction Input:\n' +
  '\nAfter the call, you will get the call result, and you are now in a new state.\n' +
  "Let's Begin!\n" +
  'Task description: You should use functions to help handle the real time user querys. 中文 ok.' +
  '\nSpecifically, you have access to the following APIs: ' +
  FUNCTIONS_REPR;

const system = { from: 'system', value: SYSTEM } as const;
const user = (query: string) => ({ from: 'user', value: `\n${query}\nBegin!\n` }) as const;

// 1: a normal two-step answer; the first call's text ("I will search for cafés first.") is dropped.
const Q1 = 'Find cafés in Paris';
const SEARCH_PARIS = { from: 'assistant', value: '\nThought: \nAction: search_for_cafe_tool\nAction Input: {\n  "city": "Paris"\n}' } as const;
const ANSWER_1: SftInstance[] = [
  { id: `Step 2: ${Q1}`, conversations: [system, user(Q1), SEARCH_PARIS] },
  {
    id: `Step 4: ${Q1}`,
    conversations: [
      system,
      user(Q1),
      SEARCH_PARIS,
      { from: 'function', value: `{"error": "", "response": "[{'name': 'Café de Flore'}]"}` },
      { from: 'assistant', value: '\nThought: \nAction: Finish\nAction Input: {\n  "return_type": "give_answer",\n  "final_answer": "Try Café de Flore."\n}' },
    ],
  },
];

// 2: give up and restart.
const Q2 = 'Book a table at Le Café 😀';
const ANSWER_2: SftInstance[] = [
  {
    id: `Step 2: ${Q2}`,
    conversations: [system, user(Q2), { from: 'assistant', value: '\nThought: \nAction: Finish\nAction Input: {\n  "return_type": "give_up_and_restart"\n}' }],
  },
];

// 4: an empty final answer.
const Q4 = 'Say nothing';
const ANSWER_4: SftInstance[] = [
  {
    id: `Step 2: ${Q4}`,
    conversations: [system, user(Q4), { from: 'assistant', value: '\nThought: \nAction: Finish\nAction Input: {\n  "return_type": "give_answer",\n  "final_answer": ""\n}' }],
  },
];

// 5: conversation 0 ends on a thought without a call (dropped); the thoughts become the next
// call's "Thought:" (a null content gives an empty one); the diversity prompt is a plain user turn.
const Q5 = 'Compare 東京 and café prices 😀';
const SEARCH_TOKYO = { from: 'assistant', value: '\nThought: Let me think about 東京 first 😀\nAction: search_for_cafe_tool\nAction Input: {"city": "東京"}' } as const;
const ANSWER_5: SftInstance[] = [
  { id: `Step 3: ${Q5}`, conversations: [system, user(Q5), SEARCH_TOKYO] },
  {
    id: `Step 8: ${Q5}`,
    conversations: [
      system,
      user(Q5),
      SEARCH_TOKYO,
      { from: 'function', value: '{"error": "", "response": "[]"}' },
      { from: 'user', value: 'This is not the first time you try this task, all previous trails failed.' },
      {
        from: 'assistant',
        value: '\nThought: Nothing found.\nThought: \nAction: Finish\nAction Input: {\n  "return_type": "give_answer",\n  "final_answer": "東京 has no café data."\n}',
      },
    ],
  },
];

const ALL_INSTANCES = [...ANSWER_1, ...ANSWER_2, ...ANSWER_4, ...ANSWER_5];

// 7 (CoT@1): the whole output file for --method CoT@1, as json.dump(indent=4, ensure_ascii=False).
const COT_FILE = String.raw`[
    {
        "id": "Step 2: Ping café ☕",
        "conversations": [
            {
                "from": "system",
                "value": "Use tools, with a function call to actually excute your step. Your output should follow this format:\nThought:\nAction\nAction Input:\n\nBegin!\nSpecifically, you have access to the following APIs: [{'name': 'Finish', 'description': \"Say it's done\", 'parameters': {'type': 'object', 'properties': {}, 'required': ['return_type']}}]"
            },
            {
                "from": "user",
                "value": "\nPing café ☕\nBegin!\n"
            },
            {
                "from": "assistant",
                "value": "\nThought: \nAction: Finish\nAction Input: {\"return_type\": \"give_answer\", \"final_answer\": \"pong é\"}"
            }
        ]
    }
]`;

describe('sftInstances', () => {
  test('a normal answer: one instance per assistant step, the text of a message with a call dropped', () => {
    assert.deepEqual(sftInstances(answer('1_DFS_woFilter_w2.json')), { ok: true, instances: ANSWER_1 });
  });

  test('a give-up answer and an empty final answer are instances like any other', () => {
    assert.deepEqual(sftInstances(answer('2_DFS_woFilter_w2.json')), { ok: true, instances: ANSWER_2 });
    assert.deepEqual(sftInstances(answer('4_DFS_woFilter_w2.json')), { ok: true, instances: ANSWER_4 });
  });

  test('thoughts without calls go into the next call; a conversation ending on one is dropped', () => {
    assert.deepEqual(sftInstances(answer('5_DFS_woFilter_w2.json')), { ok: true, instances: ANSWER_5 });
  });

  test('the system turn: format instruction inserted once, then the Python repr of the functions', () => {
    const result = sftInstances(answer('1_DFS_woFilter_w2.json'));
    assert.ok(result.ok);
    const value = result.instances[0]?.conversations[0]?.value as string;
    assert.equal(value.split('Your output should follow this format:\nThought:\nAction\nAction Input:\n').length, 2);
    assert.ok(value.includes('excute your step. Your output should follow this format:\nThought:\nAction\nAction Input:\n\nAfter the call'));
    assert.ok(value.endsWith(`.\nSpecifically, you have access to the following APIs: ${FUNCTIONS_REPR}`));
  });

  test('invalid data and missing fields are reasons, not instances', () => {
    assert.deepEqual(sftInstances(answer('3_DFS_woFilter_w2.json')), { ok: false, reason: 'answer_generation.valid_data is false' });
    assert.deepEqual(sftInstances(answer('8_DFS_woFilter_w2.json')), { ok: false, reason: '$.answer_generation.function: expected the list of functions' });
    assert.deepEqual(sftInstances(['not', 'an', 'answer']), { ok: false, reason: 'not a JSON object' });
    assert.deepEqual(sftInstances({ win: true }), { ok: false, reason: '$.answer_generation: expected an object' });
    const noMessages = { answer_generation: { valid_data: true, function: [], query: 'q' } };
    assert.deepEqual(sftInstances(noMessages), { ok: false, reason: '$.answer_generation.train_messages: expected a list of conversations' });
  });

  test('a system message without "…excute your step." fails the answer (upstream asserts)', () => {
    const data: PyValue = {
      answer_generation: {
        valid_data: true,
        function: [],
        query: 'q',
        train_messages: [[{ role: 'system', content: 'no marker here' }, { role: 'user', content: 'q' }, { role: 'assistant', content: null, function_call: { name: 'Finish', arguments: '{}' } }]],
      },
    };
    const result = sftInstances(data);
    assert.equal(result.ok, false);
    assert.match((result as { reason: string }).reason, /^\$\.answer_generation\.train_messages\[0\]: .*excute your step/);
  });

  test('"function_call": null counts as no call; StableToolBench tool_calls messages give no instance (quirk 5)', () => {
    const sys = { role: 'system', content: 'x with a function call to actually excute your step.' };
    const data = (last: Record<string, PyValue>) => ({ answer_generation: { valid_data: true, function: [], query: 'q', train_messages: [[sys, { role: 'user', content: 'q' }, last]] } });
    assert.deepEqual(sftInstances(data({ role: 'assistant', content: 'done', function_call: null })), { ok: true, instances: [] });
    const toolCalls = { role: 'assistant', content: 'x', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'Finish', arguments: '{}' } }] };
    assert.deepEqual(sftInstances(data(toolCalls)), { ok: true, instances: [] });
  });
});

describe('toolbench preprocess toolllama', () => {
  test('converts the answer files in name order and reports the skipped ones (exit 3)', async () => {
    const out = freshFile();
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', out]);
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 4, result.stderr);
    assert.equal(lines[0], `warning: skipped: ${join(ANSWERS, '3_DFS_woFilter_w2.json')}: answer_generation.valid_data is false`);
    assert.ok(lines[1]?.startsWith(`warning: skipped: ${join(ANSWERS, '6_DFS_woFilter_w2.json')}: `), lines[1]);
    assert.match(lines[1] ?? '', /expected/);
    assert.equal(lines[2], `warning: skipped: ${join(ANSWERS, '8_DFS_woFilter_w2.json')}: $.answer_generation.function: expected the list of functions`);
    assert.equal(lines[3], `7 answer files (4 converted, 3 skipped): 6 instances to ${out}`);
    assert.deepEqual(JSON.parse(read(out)), ALL_INSTANCES);
  });

  test(
    'the reason for an unreadable file names the file once',
    async () => {
      const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', freshFile()]);
      const line = result.stderr.split('\n').find((text) => text.includes('6_DFS_woFilter_w2.json')) ?? '';
      assert.equal(line.split('6_DFS_woFilter_w2.json').length, 2, line);
    },
  );

  test('the output layout: indent 4, non-ASCII raw, items joined by ",\\n    ", no final newline', async () => {
    const out = freshFile();
    await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', out]);
    const text = read(out);
    assert.ok(text.startsWith('[\n    {\n        "id": "Step 2: Find cafés in Paris",\n        "conversations": [\n            {\n                "from": "system",\n                "value": "You are AutoGPT, '));
    assert.ok(text.includes(String.raw`'description': 'This is the subfunction for tool \"café_tool\". The description of this function is: \"Find cafés – it\\'s 中文 😀\"'`));
    assert.ok(text.includes('\n            }\n        ]\n    },\n    {\n        "id": "Step 4: Find cafés in Paris",\n'));
    assert.ok(text.includes('"id": "Step 8: Compare 東京 and café prices 😀"'));
    assert.ok(text.endsWith('\n            }\n        ]\n    }\n]'));
    assert.doesNotMatch(text, /\\u[0-9a-f]{4}/);
  });

  test('--method picks the files by name: the CoT file alone, written exactly', async () => {
    const out = freshFile();
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--method', 'CoT@1', '--out', out, '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { files: 1, converted: 1, skipped: 0, instances: 1, eval_instances: 0 });
    assert.equal(read(out), COT_FILE);
  });

  test('no matching file: [] and a warning (exit 0)', async () => {
    const out = freshFile();
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--method', 'DFS_wFilter_w2', '--out', out, '--json']);
    assert.equal(result.code, 0);
    assert.deepEqual(JSON.parse(result.stdout), { files: 0, converted: 0, skipped: 0, instances: 0, eval_instances: 0 });
    assert.match(result.stderr, /no \*\.json file names contain DFS_wFilter_w2/);
    assert.equal(read(out), '[]');
  });

  test('only invalid answers: [] (exit 3)', async () => {
    const dir = join(scratch, 'invalid-only');
    mkdirSync(dir);
    writeFileSync(join(dir, '3_DFS_woFilter_w2.json'), readFileSync(join(ANSWERS, '3_DFS_woFilter_w2.json')));
    const out = freshFile();
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', dir, '--out', out, '--json']);
    assert.equal(result.code, 3);
    assert.deepEqual(JSON.parse(result.stdout), { files: 1, converted: 0, skipped: 1, instances: 0, eval_instances: 0 });
    assert.equal(read(out), '[]');
  });

  test('--json prints the counts', async () => {
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', freshFile(), '--json']);
    assert.equal(result.code, 3);
    assert.deepEqual(JSON.parse(result.stdout), { files: 7, converted: 4, skipped: 3, instances: 6, eval_instances: 0 });
  });

  test('--eval-out: a seeded share goes to the eval file; both together are the whole run, in order', async () => {
    const whole = freshFile();
    await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', whole]);
    const all = JSON.parse(read(whole)) as SftInstance[];
    let split = 0;
    for (let seed = 0; seed < 12; seed++) {
      const [train, evaluation] = [freshFile('train.json'), freshFile('eval.json')];
      const args = ['preprocess', 'toolllama', '--answers', ANSWERS, '--out', train, '--eval-out', evaluation, '--eval-ratio', '0.5', '--seed', String(seed), '--json'];
      const result = await runToolbench(args);
      assert.equal(result.code, 3, result.stderr);
      const trained = JSON.parse(read(train)) as SftInstance[];
      const evaluated = JSON.parse(read(evaluation)) as SftInstance[];
      assert.deepEqual(JSON.parse(result.stdout), { files: 7, converted: 4, skipped: 3, instances: trained.length, eval_instances: evaluated.length });
      const evalIds = new Set(evaluated.map((instance) => instance.id));
      assert.equal(evalIds.size, evaluated.length);
      assert.deepEqual(evaluated, all.filter((instance) => evalIds.has(instance.id)), `seed ${seed}`);
      assert.deepEqual(trained, all.filter((instance) => !evalIds.has(instance.id)), `seed ${seed}`);
      if (trained.length > 0 && evaluated.length > 0) split++;
      // the same seed gives the same files
      const [again, againEval] = [freshFile('train.json'), freshFile('eval.json')];
      await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', again, '--eval-out', againEval, '--eval-ratio', '0.5', '--seed', String(seed)]);
      assert.equal(read(again), read(train));
      assert.equal(read(againEval), read(evaluation));
    }
    assert.ok(split > 0, 'some seed splits the six instances between both files');
  });

  test('--eval-ratio 0: the eval file is [] and the train file is the whole run; 1: the other way round', async () => {
    const whole = freshFile();
    await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', whole]);
    const [train0, eval0] = [freshFile('train.json'), freshFile('eval.json')];
    const none = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', train0, '--eval-out', eval0, '--eval-ratio', '0', '--json']);
    assert.deepEqual(JSON.parse(none.stdout), { files: 7, converted: 4, skipped: 3, instances: 6, eval_instances: 0 });
    assert.equal(read(eval0), '[]');
    assert.equal(read(train0), read(whole));
    const [train1, eval1] = [freshFile('train.json'), freshFile('eval.json')];
    const every = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', train1, '--eval-out', eval1, '--eval-ratio', '1', '--json']);
    assert.deepEqual(JSON.parse(every.stdout), { files: 7, converted: 4, skipped: 3, instances: 0, eval_instances: 6 });
    assert.equal(read(train1), '[]');
    assert.equal(read(eval1), read(whole));
  });

  test('the human summary names the eval file', async () => {
    const [train, evaluation] = [freshFile('train.json'), freshFile('eval.json')];
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', train, '--eval-out', evaluation, '--eval-ratio', '1']);
    assert.match(result.stderr, new RegExp(`7 answer files \\(4 converted, 3 skipped\\): 0 instances to .*train\\.json, 6 to .*eval\\.json\\n$`));
  });

  test('bad --eval-ratio or --seed values are usage errors (exit 2), and nothing is written', async () => {
    for (const flags of [['--eval-ratio', '1.5'], ['--eval-ratio', 'x'], ['--seed', 'x'], ['--seed', '1.5']]) {
      const out = freshFile();
      const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', out, ...flags]);
      assert.equal(result.code, 2, flags.join(' '));
      assert.ok(result.stderr.includes(flags[0] as string), result.stderr);
      assert.equal(existsSync(out), false);
    }
  });

  test('--answers that is missing or not a folder: exit 2, nothing written', async () => {
    const out = freshFile();
    const missing = await runToolbench(['preprocess', 'toolllama', '--answers', join(scratch, 'no-such-dir'), '--out', out]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--answers .*no-such-dir: no such folder/);
    const file = await runToolbench(['preprocess', 'toolllama', '--answers', join(ANSWERS, '1_DFS_woFilter_w2.json'), '--out', out]);
    assert.equal(file.code, 2);
    assert.match(file.stderr, /not a folder/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(join(out, '..')), []);
  });

  test('an --out that cannot be written fails (exit 1) and leaves no temporary file', async () => {
    const dir = join(scratch, 'out-is-dir');
    mkdirSync(join(dir, 'train.json'), { recursive: true });
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', ANSWERS, '--out', join(dir, 'train.json')]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot write/);
    assert.deepEqual(readdirSync(dir), ['train.json']);
    assert.deepEqual(readdirSync(join(dir, 'train.json')), []);
  });
});

describe('preprocess toolllama conformance (2023-07 demo)', { skip: SKIP_WITHOUT_DATA }, () => {
  test('raw_answer/G1_demo gives processed_answer/G1_demo_DFS_woFilter_w2.json byte for byte', async () => {
    const out = freshFile();
    const base = 'toolbench/history-b2384c2/data/toolllama';
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', dataPath(base, 'raw_answer/G1_demo'), '--out', out, '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { files: 1, converted: 1, skipped: 0, instances: 4, eval_instances: 0 });
    assert.ok(readFileSync(out).equals(readFileSync(dataPath(base, 'processed_answer/G1_demo_DFS_woFilter_w2.json'))));
  });
});
