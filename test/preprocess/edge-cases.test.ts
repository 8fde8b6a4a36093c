/**
 * `preprocess` edge cases found in review: values that are not text, the answer_generation short
 * cut against decoys, outputs that cannot be committed, and arguments that cannot work.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { sftInstances } from '../../src/preprocess/toolllama.js';
import { readJsonFile } from '../../src/util/json-file.js';
import { runToolbench } from '../helpers/cli.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolbench-preprocess-edge-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const SYSTEM = 'You are AutoGPT, you can use many tools(functions) to do the following task.\nFirst I will give you the task description, and your task start.\nAt each step, you need to give your thought to analyze the status now and what to do next, with a function call to actually excute your step.\nAfter the call, you will get the call result, and you are now in a new state.\nThen you will analyze your status now, then decide what to do next...\nAfter many (Thought-call) pairs, you finally perform the task, then you can give your finial answer.\nRemember: \n1.the state change is irreversible, you can\'t go back to one of the former state, if you want to restart the task, say "I give up and restart".\n2.All the thought is short, at most in 5 sentence.\n3.You can do more then one trys, so if your plan is to continusly try some conditions, you can do one of the conditions per try.\nLet\'s Begin!\nTask description: You should use functions to help handle the real time user querys. Remember:\n1.ALWAYS call "Finish" function at the end of the task. And the final answer should contain enough information to show to the user,If you can\'t handle the task, or you find that function calls always fail(the function is always unavailable now), use function Finish->give_up_and_restart.\n2.Do not use origin tool functions like searchfunctions.\n';

/** An answer file whose answer_generation is the last key, with `extra` text placed before `function`. */
function answerFile(functionContent: string, extra = ''): string {
  const call = { role: 'assistant', content: null, function_call: { name: 'search_for_tool', arguments: '{"q": "x"}' } };
  const finish = { role: 'assistant', content: null, function_call: { name: 'Finish', arguments: '{"return_type": "give_answer", "final_answer": "ok"}' } };
  const conversation = `[{"role": "system", "content": ${JSON.stringify(SYSTEM)}}, {"role": "user", "content": "Find x"}, ${JSON.stringify(call)}, {"role": "function", "name": "search_for_tool", "content": ${functionContent}}, ${JSON.stringify(finish)}]`;
  return `{"win": true, "tree": {"note": "version 1.0"}, "answer_generation": {"valid_data": true, ${extra}"function": [{"name": "search_for_tool", "description": "Search.", "parameters": {"type": "object", "properties": {"q": {"type": "string", "example_value": 1.0}}}}], "query": "Find x", "train_messages": [${conversation}]}}`;
}

describe('preprocess toolllama edge cases', () => {
  test('a function turn whose content is an object is laid out as json.dump(indent=4) writes it, floats kept', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'answers'));
    writeFileSync(join(dir, 'answers', '1_DFS_woFilter_w2.json'), answerFile('{"b": 1.0, "c": ["x", null]}'));
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', join(dir, 'answers'), '--out', join(dir, 'out.json')]);
    assert.equal(result.code, 0, result.stderr);
    const text = readFileSync(join(dir, 'out.json'), 'utf8');
    const pad = ' '.repeat(16);
    assert.ok(text.includes(`"value": {\n${pad}    "b": 1.0,\n${pad}    "c": [\n${pad}        "x",\n${pad}        null\n${pad}    ]\n${pad}}`), text);
    assert.ok(text.includes("'example_value': 1.0"), 'the function repr keeps the float');
  });

  test('a nested "function" list before the real one does not replace it (the short cut checks)', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'answers'));
    const file = join(dir, 'answers', '1_DFS_woFilter_w2.json');
    writeFileSync(file, answerFile('"plain"', '"meta": {"function": [{"name": "WRONG"}]}, '));
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', join(dir, 'answers'), '--out', join(dir, 'out.json')]);
    assert.equal(result.code, 0, result.stderr);
    const written = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    const expected = sftInstances(readJsonFile(file));
    assert.ok(expected.ok);
    assert.deepEqual(written, JSON.parse(JSON.stringify(expected.instances)));
    assert.doesNotMatch(written[0].conversations[0].value, /WRONG/);
  });

  test('--eval-out the same as --out is refused', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'answers'));
    const result = await runToolbench(['preprocess', 'toolllama', '--answers', join(dir, 'answers'), '--out', join(dir, 'o.json'), '--eval-out', join(dir, '.', 'o.json')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /the same file as --out/);
  });
});

describe('preprocess retriever edge cases', () => {
  const queries = '[{"query_id": 1, "query": "q one", "api_list": [{"tool_name": "T", "api_name": "a"}], "relevant APIs": [["T", "a"]]}, {"query_id": 2, "query": "q two", "api_list": [{"tool_name": "T", "api_name": "b"}], "relevant APIs": [["T", "b"]]}]';

  test('an output that cannot be renamed into place leaves every target untouched', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'queries.json'), queries);
    writeFileSync(join(dir, 'ids.json'), '{"2": 0}');
    mkdirSync(join(dir, 'out', 'qrels.test.tsv'), { recursive: true }); // a folder where a file goes
    const result = await runToolbench(['preprocess', 'retriever', '--queries', join(dir, 'queries.json'), '--test-ids', join(dir, 'ids.json'), '--out', join(dir, 'out')]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /qrels\.test\.tsv: cannot write/);
    assert.deepEqual(readdirSync(join(dir, 'out')).sort(), ['qrels.test.tsv'], 'no other output replaced, no temporary file left');
  });

  test('an empty split is reported (exit 3); a folder as --queries is refused', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'queries.json'), queries);
    writeFileSync(join(dir, 'ids.json'), '{"99": 0}');
    const empty = await runToolbench(['preprocess', 'retriever', '--queries', join(dir, 'queries.json'), '--test-ids', join(dir, 'ids.json'), '--out', join(dir, 'out')]);
    assert.equal(empty.code, 3, empty.stderr);
    assert.match(empty.stderr, /no test pairs/);
    assert.ok(existsSync(join(dir, 'out', 'corpus.tsv')));
    const folder = await runToolbench(['preprocess', 'retriever', '--queries', dir, '--test-ids', join(dir, 'ids.json'), '--out', join(dir, 'out2')]);
    assert.equal(folder.code, 2);
    assert.match(folder.stderr, /expected a regular file/);
  });
});
