/**
 * Cache keys against Python (spec formats.md §13.1 step 4): for every arguments text a model sent
 * in the real answer trees, `cacheKey(parseToolInput(text))` is Python's `str(json.loads(text))`,
 * computed by running python3 on the same texts. The real calls hold few floats, no unicode and
 * no nesting, so hand-written texts covering those are compared in the same run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { cacheKey } from '../../src/env/response-cache.js';
import { parseToolInput } from '../../src/env/tool-input.js';
import { PyFloat, isPyObject, type PyObject, type PyValue } from '../../src/util/py-value.js';
import { pyRepr } from '../../src/util/pyrepr.js';
import { answerFiles } from '../helpers/answer-files.js';
import { SKIP_WITHOUT_DATA } from '../helpers/paths.js';

/** Arguments texts of the tool calls (not Finish) in an answer's nodes and messages. */
function argumentTexts(answer: PyObject): string[] {
  const texts: string[] = [];
  const visitNode = (node: PyValue, parent: PyValue | undefined): void => {
    if (!isPyObject(node)) return;
    if (isToolCallInput(node, parent)) texts.push(node.description as string);
    if (Array.isArray(node.children)) for (const child of node.children) visitNode(child, node);
  };
  if (isPyObject(answer.tree)) visitNode(answer.tree.tree ?? null, undefined);
  for (const attempt of asList(answer.trys)) {
    const chain = isPyObject(attempt) ? asList(attempt.chain) : [];
    chain.forEach((node, index) => {
      if (isPyObject(node) && isToolCallInput(node, chain[index - 1])) texts.push(node.description as string);
    });
  }
  const generation = isPyObject(answer.answer_generation) ? answer.answer_generation : {};
  const visitMessages = (messages: PyValue): void => {
    for (const message of asList(messages)) {
      if (Array.isArray(message)) visitMessages(message); // train_messages: a list of conversations
      if (!isPyObject(message)) continue;
      const calls = [message.function_call, ...asList(message.tool_calls).map((call) => (isPyObject(call) ? call.function : null))];
      for (const call of calls) {
        if (isPyObject(call) && call.name !== 'Finish' && typeof call.arguments === 'string') texts.push(call.arguments);
      }
    }
  };
  visitMessages(generation.train_messages ?? null);
  visitMessages(generation.chain ?? null);
  return texts;
}

function isToolCallInput(node: PyObject, parent: PyValue | undefined): boolean {
  return (
    node.node_type === 'Action Input' &&
    typeof node.description === 'string' &&
    isPyObject(parent) &&
    parent.node_type === 'Action' &&
    parent.description !== 'Finish'
  );
}

function asList(value: PyValue | undefined): readonly PyValue[] {
  return Array.isArray(value) ? value : [];
}

// Hand-written arguments for what the real calls lack: unicode, floats (integral, exponents,
// non-finite), null, booleans, nesting, index-like and repeated keys, escapes.
const EXTRA_TEXTS: readonly string[] = [
  '{"city": "São Paulo", "name": "東京タワー", "emoji": "👍🏽", "nbsp": "a\\u00a0b", "zw": "\\u200b", "ls": "\\u2028"}',
  '{"lone": "\\ud800", "pair": "\\ud83d\\ude00", "bidi": "\\u202e", "latin1": "\\u0085\\u00ad\\u00ff"}',
  '{"price": 1.0, "lat": -33.8688, "lng": 151.2093, "big": 1e16, "tiny": 1e-05, "exp": 2.5E+3, "small": 0.0001, "neg0": -0.0}',
  '{"x": 123456789012345678.0, "y": 1.7976931348623157e308, "z": 5e-324, "w": 0.1, "v": 1e22, "u": 100.0}',
  '{"nan": NaN, "inf": Infinity, "ninf": -Infinity, "over": 1e400}',
  '{"n": 9007199254740993, "m": -12345678901234567890, "zero": -0}',
  '{"flag": true, "off": false, "none": null, "list": [true, null, 1.5, "s"]}',
  '{"filters": {"range": {"min": 0, "max": 10.0}, "tags": ["a", ["b", {"c": []}]], "empty": {}}}',
  '[{"a": 1}, [2, 3.0], null]',
  '{"608": 0, "588": 1, "b": 2, "1": 3}',
  '{"a": 1, "b": 2, "a": 3}',
  `{"q": "it's", "r": "say \\"hi\\"", "s": "both ' and \\"", "t": "back\\\\slash", "c": "\\n\\r\\t\\b\\f\\u0000\\u001f\\u007f"}`,
  '{"it\'s": 1, "k\\"q": 2, "": 3}',
  '"just a string"',
  '42',
  '',
  '{"incomplete": ',
];

const PYTHON_STR = [
  'import json, sys',
  'texts = json.load(sys.stdin)',
  'def key(text):',
  '    try:',
  '        return str(json.loads(text) if text != "" else {})',
  '    except ValueError:',
  '        return None',
  'json.dump([key(text) for text in texts], sys.stdout)',
].join('\n');

const SKIP_WITHOUT_PYTHON: string | false = spawnSync('python3', ['-c', 'import json'], { stdio: 'ignore' }).status === 0 ? false : 'python3 is not on PATH';

/** Python's `str(json.loads(text))` of each text; null where json.loads fails. */
function pythonKeys(texts: readonly string[]): (string | null)[] {
  const result = spawnSync('python3', ['-c', PYTHON_STR], {
    input: JSON.stringify(texts),
    encoding: 'utf8',
    env: { ...process.env, PYTHONIOENCODING: 'utf-8' },
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as (string | null)[];
}

type Kind = 'unicode' | 'float' | 'integral float' | 'exponent' | 'boolean' | 'null' | 'nested dict' | 'nested list';

function kindsOf(value: PyValue, key: string): Set<Kind> {
  const kinds = new Set<Kind>();
  if (/[^\u0000-\u007f]/.test(key)) kinds.add('unicode');
  const visit = (item: PyValue, depth: number): void => {
    if (item === null) kinds.add('null');
    else if (typeof item === 'boolean') kinds.add('boolean');
    else if (item instanceof PyFloat || (typeof item === 'number' && !Number.isInteger(item))) {
      kinds.add('float');
      if (item instanceof PyFloat) kinds.add('integral float');
      if (pyRepr(item).includes('e')) kinds.add('exponent');
    } else if (Array.isArray(item)) {
      if (depth > 0) kinds.add('nested list');
      for (const element of item) visit(element, depth + 1);
    } else if (isPyObject(item)) {
      if (depth > 0) kinds.add('nested dict');
      for (const element of Object.values(item)) visit(element, depth + 1);
    }
  };
  visit(value, 0);
  return kinds;
}

describe('cache keys of real tool-call arguments against Python str()', { skip: SKIP_WITHOUT_DATA }, () => {
  test('every arguments text is keyed as Python keys it', { skip: SKIP_WITHOUT_PYTHON }, (t) => {
    const files = answerFiles();
    assert.equal(files.length, 27, 'answer files in the shared data (README §3)');
    const realTexts = new Set(files.flatMap(({ answer }) => argumentTexts(answer)));
    const texts = [...new Set([...realTexts, ...EXTRA_TEXTS])];
    const python = pythonKeys(texts);

    const mismatches: string[] = [];
    const kinds = new Set<Kind>();
    let compared = 0;
    let unparsed = 0;
    texts.forEach((text, index) => {
      const expected = python[index] ?? null;
      const input = parseToolInput(text);
      if (input === undefined) {
        unparsed++;
        if (expected !== null) mismatches.push(`${JSON.stringify(text)}: Python parses it (${expected}), we do not`);
        return;
      }
      compared++;
      const key = cacheKey(input);
      if (key !== expected) mismatches.push(`${JSON.stringify(text)}: ${JSON.stringify(key)} vs Python ${JSON.stringify(expected)}`);
      for (const kind of kindsOf(input, key)) kinds.add(kind);
    });

    t.diagnostic(`${files.length} answer files, ${realTexts.size} distinct real arguments texts + ${EXTRA_TEXTS.length} hand-written; ${compared} compared, ${unparsed} not JSON`);
    assert.deepEqual(mismatches, []);
    assert.ok(realTexts.size >= 100, `${realTexts.size} real arguments texts`);
    const required: Kind[] = ['unicode', 'float', 'integral float', 'exponent', 'boolean', 'null', 'nested dict', 'nested list'];
    assert.deepEqual(
      required.filter((kind) => !kinds.has(kind)),
      [],
      'kinds of values missing from the compared texts',
    );
  });
});
