import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { convertAnswer, methodFamily, type ConvertOptions, type PathNode } from '../../src/eval/convert.js';
import { readJsonFile } from '../../src/util/json-file.js';
import { runToolbench } from '../helpers/cli.js';
import { fixture } from '../helpers/paths.js';

const COT = fixture('answers', 'convert', 'cot');
const DFS = fixture('answers', 'convert', 'dfs');
const BROKEN = fixture('answers', 'convert', 'broken');

function convertFixture(dir: string, name: string, options: Partial<ConvertOptions> = {}) {
  const method = options.method ?? (dir === DFS ? 'DFS_woFilter_w2' : 'CoT@1');
  const result = convertAnswer(readJsonFile(join(dir, name)), {
    qid: name.split('_')[0]!,
    method,
    family: methodFamily(method)!,
    seed: 42,
    ...options,
  });
  assert.ok(result.ok, JSON.stringify(result));
  return result;
}

/** The nodes of the path below system and user, as [role, message]. */
function steps(details: readonly PathNode[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  let node: PathNode | undefined = details[0];
  while (node !== undefined) {
    assert.ok(node.next.length <= 1);
    out.push([node.role, node.message]);
    node = node.next[0];
  }
  assert.deepEqual(out.slice(0, 2), [['system', ''], ['user', '']]);
  return out.slice(2);
}

const tool = (name: string, args: string, response: string) => ['tool', { name, arguments: args, response }];

describe('methodFamily', () => {
  test('reads CoT or DFS from the method name as upstream tests it', () => {
    assert.equal(methodFamily('CoT@1'), 'CoT');
    assert.equal(methodFamily('chatgpt_cot'), 'CoT');
    assert.equal(methodFamily('DFS_woFilter_w2'), 'DFS');
    assert.equal(methodFamily('dfs'), 'DFS');
    assert.equal(methodFamily('ReAct'), undefined);
  });
});

describe('convertAnswer: valid data', () => {
  test('function shape: calls with their results, text-only turns, a call drops its text, diversity prompt skipped', () => {
    const { valid, entry } = convertFixture(COT, '1_CoT@1.json');
    assert.equal(valid, true);
    assert.equal(entry.toolbench, undefined);
    assert.equal(entry.query, 'Weather in Paris?');
    assert.equal(entry.answer.method, 'CoT@1');
    assert.match(String(entry.answer.final_answer), /Sunny/);
    assert.deepEqual(steps(entry.answer.answer_details), [
      tool('get_weather', '{"city": "Paris"}', '{"error": "", "response": "sunny"}'),
      ['assistant', 'It is sunny, let me check again.'],
      tool('get_weather', '{}', '{"error": "", "response": "still sunny"}'),
      tool('Finish', String(entry.answer.final_answer), ''),
    ]);
    assert.equal(entry.answer.total_steps, 6);
  });

  test('tool shape: results matched by tool_call_id, a call without a result dropped, Finish stops the parallel calls', () => {
    const { entry } = convertFixture(COT, '2_CoT@1.json');
    assert.deepEqual(steps(entry.answer.answer_details), [
      tool('get_weather', '{"city": "Rome"}', '{"error": "", "response": "Rome: sun"}'),
      tool('get_weather', '{"city": "Oslo"}', '{"error": "", "response": "Oslo: rain"}'),
      tool('get_weather', '{"city": "Bern"}', 'Bern: snow'),
      tool('Finish', String(entry.answer.final_answer), ''),
    ]);
    assert.equal(entry.answer.total_steps, 6);
  });

  test('a valid DFS answer converts from train_messages like a CoT one, without a recorded choice', () => {
    const { valid, entry } = convertFixture(DFS, '5_DFS_woFilter_w2.json');
    assert.equal(valid, true);
    assert.equal(entry.toolbench, undefined);
    assert.deepEqual(steps(entry.answer.answer_details), [tool('Finish', String(entry.answer.final_answer), '')]);
    assert.equal(entry.answer.total_steps, 3);
  });
});

describe('convertAnswer: invalid data', () => {
  test('CoT: one try chosen by the seed and recorded; Action + Action Input merged, missing observation is ""', () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 30; seed++) {
      const { valid, entry } = convertFixture(COT, '3_CoT@1.json', { seed });
      assert.equal(valid, false);
      assert.equal(entry.answer.final_answer, '');
      const choice = entry.toolbench?.choices[0];
      assert.equal(entry.toolbench?.seed, seed);
      assert.ok(choice !== undefined && choice >= 0 && choice < 3);
      seen.add(choice);
      const expected: unknown[] = [['assistant', `try ${choice} thinking`], tool('get_weather', `{"try": ${choice}}`, `result ${choice}`)];
      if (choice === 2) expected.push(tool('get_weather', '{}', ''));
      assert.deepEqual(steps(entry.answer.answer_details), expected);
      assert.equal(entry.answer.total_steps, expected.length + 2);
    }
    assert.equal(seen.size, 3, 'different seeds reach every try');
  });

  test('DFS: a root-to-leaf path of the merged tree, following the recorded child indices', () => {
    const tree = readJsonFile(join(DFS, '4_DFS_woFilter_w2.json')) as { tree: { tree: Record<string, unknown> } };
    const leaves = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const { valid, entry } = convertFixture(DFS, '4_DFS_woFilter_w2.json', { seed });
      assert.equal(valid, false);
      const path = steps(entry.answer.answer_details);
      const choices = entry.toolbench?.choices ?? [];
      assert.equal(choices.length, path.length);
      // Replay the choices on the raw tree: Thought = one node, Action + Action Input = one node.
      let level = tree.tree.tree.children as Record<string, unknown>[];
      path.forEach(([role, message], index) => {
        const record = level[choices[index]!]!;
        if (record.node_type === 'Action') {
          const input = (record.children as Record<string, unknown>[])[0]!;
          assert.deepEqual([role, message], tool(String(record.description), String(input.description), String(input.observation)));
          level = input.children as Record<string, unknown>[];
        } else {
          assert.deepEqual([role, message], ['assistant', record.description]);
          level = record.children as Record<string, unknown>[];
        }
      });
      assert.equal(level.length, 0, 'the path ends at a leaf');
      assert.equal(entry.answer.total_steps, path.length + 2);
      leaves.add(JSON.stringify(path.at(-1)));
    }
    assert.ok(leaves.size >= 3, `seeds reach several leaves (${leaves.size})`);
  });

  test('the same seed gives the same entry', () => {
    const first = convertFixture(DFS, '4_DFS_woFilter_w2.json', { seed: 7 });
    const second = convertFixture(DFS, '4_DFS_woFilter_w2.json', { seed: 7 });
    assert.deepEqual(first, second);
  });
});

describe('convertAnswer: data that lacks what conversion needs', () => {
  test('names the JSON path', () => {
    const missing = convertAnswer({ win: true }, { qid: '1', method: 'CoT@1', family: 'CoT', seed: 42 });
    assert.deepEqual(missing, { ok: false, jsonPath: '$.answer_generation', expected: 'an object', got: 'nothing' });
    const truncated = convertAnswer(readJsonFile(join(BROKEN, '11_CoT@1.json')), { qid: '11', method: 'CoT@1', family: 'CoT', seed: 42 });
    assert.equal(truncated.ok, false);
    assert.equal(!truncated.ok && truncated.jsonPath, '$.answer_generation.train_messages[1][3]');
  });
});

describe('toolbench eval convert', () => {
  const out = (name: string) => join(mkdtempSync(join(tmpdir(), 'eval-convert-')), name);

  test('writes one line keyed by query id, files in name order, and prints the counts', async () => {
    const file = out('converted.json');
    const result = await runToolbench(['eval', 'convert', '--answers', COT, '--method', 'CoT@1', '--out', file, '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { files: 4, converted: 4, valid: 3, invalid: 1, skipped: 0 });
    const text = readFileSync(file, 'utf8');
    assert.equal(text.includes('\n'), false);
    const converted = readJsonFile(file) as Record<string, { answer: { method: string } }>;
    assert.deepEqual(Object.keys(converted).sort(), ['1', '10', '2', '3']);
    assert.ok(text.startsWith('{"10": {"query": "Short one", "available_tools": ['), 'name order puts 10_ before 1_');
    assert.equal(converted['3']!.answer.method, 'CoT@1');
    assert.match(text, /"toolbench": \{"seed": 42, "choices": \[\d\]\}/);
  });

  test('same seed same bytes; --indent 2 indents; other seeds may choose differently', async () => {
    const args = (file: string, seed: string, ...rest: string[]) => ['eval', 'convert', '--answers', DFS, '--method', 'DFS_woFilter_w2', '--out', file, '--seed', seed, ...rest];
    const [a, b] = [out('a.json'), out('b.json')];
    assert.equal((await runToolbench(args(a, '5'))).code, 0);
    assert.equal((await runToolbench(args(b, '5'))).code, 0);
    assert.equal(readFileSync(a, 'utf8'), readFileSync(b, 'utf8'));
    const texts = new Set<string>();
    for (const seed of ['1', '2', '3', '4', '5', '6']) {
      const file = out(`s${seed}.json`);
      await runToolbench(args(file, seed, '--indent', '2'));
      const text = readFileSync(file, 'utf8');
      assert.ok(text.startsWith('{\n  "4": {\n    "query": '));
      texts.add(text.replace(/"seed": \d+/, ''));
    }
    assert.ok(texts.size > 1);
  });

  test('unreadable or incomplete files are skipped with a warning and exit 3; the rest is written', async () => {
    const file = out('partial.json');
    const result = await runToolbench(['eval', 'convert', '--answers', BROKEN, '--method', 'CoT@1', '--out', file]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /7_CoT@1\.json: \$\.answer_generation: expected an object/);
    assert.match(result.stderr, /8_CoT@1\.json: \$/);
    assert.match(result.stderr, /11_CoT@1\.json: \$\.answer_generation\.train_messages\[1\]\[3\]/);
    assert.match(result.stderr, /converted 1 of 4 files .* 3 skipped/);
    assert.deepEqual(Object.keys(readJsonFile(file) as object), ['9']);
  });

  test('a method without CoT or DFS is a usage error naming the flag', async () => {
    const result = await runToolbench(['eval', 'convert', '--answers', COT, '--method', 'ReAct', '--out', out('x.json')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--method/);
  });

  test('--help shows examples', async () => {
    const result = await runToolbench(['eval', 'convert', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Examples:\n\s+\$ toolbench eval convert/);
  });
});
