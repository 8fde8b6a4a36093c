/**
 * ToolEval evaluator configurations (formats.md §11, prompts.md §2, tooleval.md §3.1, §3.3) and
 * Python `str.format` as the judge prompts are filled with it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import {
  BUILTIN_EVALUATORS,
  DEFAULT_EVALUATOR,
  loadEvaluator,
  parseEvaluator,
  parseTemplate,
  requireJudgeFunctions,
  type EvaluatorConfig,
} from '../../src/eval/evaluator-config.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { PyFloat } from '../../src/util/py-value.js';
import { PyFormatError, pyFormat } from '../../src/util/py-format.js';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/paths.js';

const DEFAULT = 'tooleval_gpt-3.5-turbo_default';
const FN = 'tooleval_gpt-3.5-turbo_fn';
const NORMALIZED = 'tooleval_gpt-3.5-turbo_normalized';
const UPSTREAM = 'toolbench/toolbench/tooleval/evaluators';
const NESTED_UPSTREAM = 'toolbench/branch-format_answer_generation_code/toolbench/tooleval/evaluators';

// prompts.md §2.1b: parsed prompts of tooleval_gpt-3.5-turbo_default, the spec's JSON literals pasted as they are
// (a JSON string literal is a JavaScript string literal with the same value)
const DEFAULT_PROMPTS: Record<string, string> = {
  "check_answer_status": "\nGiving the query and answer, you need give `answer_status` of the answer by following rules:\n1. If the answer is a sorry message or not a positive/straight response for the given query, return \"Unsolved\".\n2. If the answer is a positive/straight response for the given query, you have to further check.\n2.1 If the answer is not sufficient to determine whether the solve the query or not, return \"Unsure\".\n2.2 If you are confident that the answer is sufficient to determine whether the solve the query or not, return \"Solved\" or \"Unsolved\".\n\nQuery:\n{query}\nAnswer:\n{answer}\n\nNow give your reason in \"content\" and `answer_status` of JSON to `check_answer_status`.\n",
  "parse_answer_status": "\nGiving the query and the correspond execution detail of an answer, you need give `answer_status` of the answer by following rules:\n1. If all 'tool' nodes' message indicate that there are errors happened, return \"Unsolved\"\n2. If you find the information in the \"final_answer\" is not true/valid according to the messages in 'tool' nodes, return \"Unsolved\"\n3. If you are unable to verify the authenticity and validity of the information, return \"Unsure\"\n4. If there are 'tool' node in the chain contains successful func calling and those calling indeed solve the query, return \"Solved\"\n\nQuery:\n{query}\nAnswer:\n{answer}\n\nNow you are requested to give reason in \"content\" and `answer_status` of JSON to `parse_answer_status`.\n",
  "check_task_solvable": "\nPlease check whether the given task solvable with following rules:\n1. If the `query` provide invalid information (e.g. invalid email address or phone number), return \"Unsolvable\"\n2. If the `query` needs more information to solve (e.g. the target restaurant name in a navigation task), return \"Unsolvable\"\n3. If you are unable to draw a conclusion, return \"Unsure\"\n4. If the currently `available_tools` are enough to solve the query, return \"Solvable\"\n\nTask:\n{task}\n\nNow give your reason in \"content\" and `task_status` of JSON to `check_task_solvable`.\n",
  "select_better_answer": "\nQuery:\n{query}\n\nAnswer_0:\n{answer_0}\n\nAnswer_1:\n{answer_1}\n\nGiven above query and answers in JSON format, you must follow the rules to select the relatively better answer and give the index of the answer **(0 for Answer_0, 1 for Answer_1)**:\n1. Compare the value of \"final_answer\" in following aspects:\n- Informative: whether it contains all necessary information to reply to the query.\n- Factuality: whether it accurately describes what has been done, and what failed in the end.\n- Reasoning: If answer does not solve the query, whether gives a detailed and accurate reason for failure.\n2. If you cannot determine yet, compare the value of \"answer_details\" in following aspects:\n- Tool calling costs: calculating the percentage of failed and replicated tools calling.\n- Running costs: calculating the total tokens T used in execution.\n- Milestone: calculating the milestone(fixed subtasks) reached in execution.\n- Exploration: whether tries potential useful tools in execution. Just count times of successful tool calling with different tools/arguments in execution.\n\nIf you have made your decision, calling `select_better_answer`, else if you cannot determine, select a random answer.\n"
};

// prompts.md §2.2b: parsed messages of tooleval_gpt-3.5-turbo_fn
const FN_MESSAGES: { role: string; content: string }[] = [
  {
    "role": "system",
    "content": "You are a helpful annotator, that help user to annotate data."
  },
  {
    "role": "user",
    "content": "Giving task description and candidate answers, I want you to choose one preferred answer based on the rules. To do so, I will give you the task description that given to the models, and the candidate answers in a list for chosen. To choose the one preferred answer, you need to first analyse answers based on rules, then give the index number of the preferred answer of JSON to `choose_preference`. \n\nHere are the preference rules:\n1. if both answers give the none empty `final_answer`, check whether the given `final_answer` solves the given query.\n1.1 if both answers solve the query, choose one with smaller `total_steps`.\n1.1.1 if `total_steps` are same, choose one answer with better `final_answer` quality.\n1.2 if one answer solve while the other not, chose the answer that solve query.\n1.3 if both answers failed, check the `answer_details` to choose one with considering following preference:\n1.3.1 check `response` and prefer more successful tool calling.\n1.3.2 check `name` and prefer using more various tool usage.\n1.3.3 prefer smaller `total_steps`.\n2. if one give none empty `final_answer` while other not, choose the one give `final_answer`.\n3. if both failed to give none empty `final_answer`, following 1.3 to choose one with better `answer_details`.\n\nHere is the task description in JSON format:\n{task_description}\n\nHere are the candidate answers in JSON format:\n{answers}\n\nNow choose the preferred answer by analysing results and the rules given, return the index in range [0,1]."
  }
];

// prompts.md §2.3b: parsed prompts of tooleval_gpt-3.5-turbo_normalized
const NORMALIZED_PROMPTS: Record<string, string> = {
  "parse_answer_details": "\nGiving answer details in the following JSON format:\n{answer_details}\n\nI want you to parse the answer details and give the information of JSON to `parse_answer_details`. Now parse the answer.\n",
  "select_best_final_answer": "\nFor query {query}, you have the following answers in JSON format:\n{final_answers}\n\nI want you to select the best answer from the above answers and give the index of the answer of JSON to `select_best_final_answer`. Now select the best answer.\n",
  "check_solve_query": "\nPlease check whether the answer solve the query or not.\nQuery:\n{query}\n\nAnswer:\n{final_answer}\n\nNow give your judgment of JSON to `check_solve_query`, remember do not be too strict.\n"
};

const ANSWER_STATUS_SCHEMA = {
  type: 'object',
  properties: { answer_status: { type: 'string', enum: ['Unsure', 'Unsolved', 'Solved'] } },
  required: ['answer_status'],
};

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolbench-evaluator-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeEvaluator(root: string, name: string, config: string, template: string, templateName = 'template.txt'): string {
  const folder = join(root, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.yaml'), config);
  writeFileSync(join(folder, templateName), template);
  return folder;
}

function throwsToolbench(run: () => unknown, pattern: RegExp, exitCode = 2): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ToolbenchError, String(error));
    assert.equal(error.exitCode, exitCode);
    assert.match(error.message, pattern);
    return true;
  });
}

const MINIMAL_CONFIG = [
  'completions_kwargs:',
  '  model: "m"',
  '  functions:',
  '    - name: "check_answer_status"',
  '      parameters:',
  '        type: "object"',
  '        properties:',
  '          answer_status:',
  '            type: "string"',
  '',
].join('\n');
const MINIMAL_TEMPLATE = '<function>\n<name>check_answer_status</name>\n<description>{query}</description>\n</function>';

describe('built-in evaluators', () => {
  test('the three upstream evaluators are built in; the default is tooleval_gpt-3.5-turbo_default', () => {
    assert.deepEqual([...BUILTIN_EVALUATORS].sort(), [DEFAULT, FN, NORMALIZED]);
    assert.equal(DEFAULT_EVALUATOR, DEFAULT);
  });

  test('tooleval_gpt-3.5-turbo_default: class, model, settings, functions, prompts (prompts.md §2.1)', () => {
    const evaluator = loadEvaluator(DEFAULT);
    assert.equal(evaluator.name, DEFAULT);
    assert.equal(evaluator.source, 'builtin');
    assert.equal(evaluator.className, 'ReinforceToolLearningEvaluator');
    assert.equal(evaluator.model, 'gpt-3.5-turbo-16k');
    assert.equal(evaluator.timeoutSeconds, 10);
    assert.deepEqual(evaluator.requestSettings, { max_tokens: 1000, temperature: 0.2 });
    assert.equal(evaluator.forcedFunction, undefined);
    assert.deepEqual([...evaluator.functions.keys()], ['check_answer_status', 'parse_answer_status', 'check_task_solvable', 'select_better_answer']);
    assert.deepEqual(evaluator.functions.get('check_answer_status'), {
      name: 'check_answer_status',
      description: 'Parse the json answer with layerd nodes and return the answer_status about the answer',
      parameters: ANSWER_STATUS_SCHEMA,
    });
    assert.deepEqual(evaluator.functions.get('check_task_solvable'), {
      name: 'check_task_solvable',
      description: 'Parse the task description and return the task_status about the task',
      parameters: { type: 'object', properties: { task_status: { type: 'string', enum: ['Unsure', 'Unsolvable', 'Solvable'] } }, required: ['task_status'] },
    });
    assert.deepEqual(evaluator.functions.get('select_better_answer')?.parameters, {
      type: 'object',
      properties: { index: { type: 'number', description: 'The `index` value in the selected better answer.' } },
      required: ['index'],
    });
    assert.deepEqual(Object.fromEntries(evaluator.prompts), DEFAULT_PROMPTS);
    assert.deepEqual([...evaluator.prompts.keys()], Object.keys(DEFAULT_PROMPTS));
    assert.deepEqual(evaluator.messages, []);
  });

  test('tooleval_gpt-3.5-turbo_fn: chat messages and a forced choose_preference (prompts.md §2.2)', () => {
    const evaluator = loadEvaluator(FN);
    assert.equal(evaluator.name, FN);
    assert.equal(evaluator.className, 'OpenAIEvaluator');
    assert.equal(evaluator.model, 'gpt-3.5-turbo-16k');
    assert.equal(evaluator.timeoutSeconds, 10);
    assert.deepEqual(evaluator.requestSettings, { max_tokens: 100, temperature: 0 });
    assert.equal(evaluator.forcedFunction, 'choose_preference');
    assert.deepEqual([...evaluator.functions.keys()], ['choose_preference']);
    assert.deepEqual(evaluator.functions.get('choose_preference'), {
      name: 'choose_preference',
      description: 'Choose the preferred answer for the query within all given answers.',
      parameters: { type: 'object', properties: { preference: { type: 'number', description: 'The index of the preferred answer in all given answers.' } }, required: ['preference'] },
    });
    assert.equal(evaluator.prompts.size, 0);
    assert.deepEqual(evaluator.messages, FN_MESSAGES);
  });

  test('tooleval_gpt-3.5-turbo_normalized: class, functions, prompts (prompts.md §2.3)', () => {
    const evaluator = loadEvaluator(NORMALIZED);
    assert.equal(evaluator.name, NORMALIZED);
    assert.equal(evaluator.className, 'OpenAINormalizedEvaluator');
    assert.equal(evaluator.model, 'gpt-3.5-turbo-16k');
    assert.deepEqual(evaluator.requestSettings, { max_tokens: 100, temperature: 0 });
    assert.equal(evaluator.forcedFunction, undefined);
    assert.deepEqual([...evaluator.functions.keys()], ['parse_answer_details', 'select_best_final_answer', 'check_solve_query']);
    assert.deepEqual(evaluator.functions.get('check_solve_query')?.parameters, {
      type: 'object',
      properties: { is_solved: { type: 'boolean', description: 'true if solved and false if not' } },
      required: ['is_solved'],
    });
    assert.deepEqual(Object.fromEntries(evaluator.prompts), NORMALIZED_PROMPTS);
    assert.deepEqual(evaluator.messages, []);
  });

  test('a built-in evaluator is a fresh object each time: changing a schema does not leak', () => {
    const first = loadEvaluator(DEFAULT);
    const schema = first.functions.get('check_answer_status') as unknown as { parameters: { required: string[] } };
    try {
      schema.parameters.required.push('reason');
    } catch {
      // frozen: also fine
    }
    assert.deepEqual(loadEvaluator(DEFAULT).functions.get('check_answer_status')?.parameters.required, ['answer_status']);
  });

  for (const name of [DEFAULT, FN, NORMALIZED]) {
    test(`${name}: the hashes are those of upstream's files, and the folder loads the same`, { skip: SKIP_WITHOUT_DATA }, () => {
      const folder = dataPath(UPSTREAM, name);
      const builtin = loadEvaluator(name);
      assert.equal(builtin.templateSha256, sha256(readFileSync(join(folder, 'template.txt'))));
      assert.equal(builtin.configSha256, sha256(readFileSync(join(folder, 'config.yaml'))));
      const fromFolder = loadEvaluator(folder);
      assert.equal(fromFolder.source, folder);
      const comparable = (evaluator: EvaluatorConfig) => ({ ...evaluator, source: undefined, functions: [...evaluator.functions], prompts: [...evaluator.prompts] });
      assert.deepEqual(comparable(fromFolder), comparable(builtin));
      // --evaluators DIR --evaluator NAME finds the same folder
      assert.equal(loadEvaluator(name, dataPath(UPSTREAM)).source, join(dataPath(UPSTREAM), name));
    });
  }
});

describe('custom evaluators', () => {
  test('a folder found in --evaluators wins over the built-in of the same name', (t) => {
    const root = tempDir(t);
    writeEvaluator(root, DEFAULT, MINIMAL_CONFIG, MINIMAL_TEMPLATE);
    const evaluator = loadEvaluator(DEFAULT, root);
    assert.equal(evaluator.model, 'm');
    assert.equal(evaluator.source, join(root, DEFAULT));
    // a name not in the folder falls back to the built-in
    assert.equal(loadEvaluator(FN, root).source, 'builtin');
  });

  test('prompt_template names the template file; the class is inferred when not named', (t) => {
    const root = tempDir(t);
    const folder = writeEvaluator(root, 'e', `prompt_template: "prompts.txt"\n${MINIMAL_CONFIG}`, MINIMAL_TEMPLATE, 'prompts.txt');
    const evaluator = loadEvaluator(folder);
    assert.equal(evaluator.name, 'e');
    assert.equal(evaluator.className, 'ReinforceToolLearningEvaluator');
    assert.deepEqual(Object.fromEntries(evaluator.prompts), { check_answer_status: '{query}' });
    assert.equal(evaluator.timeoutSeconds, undefined);
    assert.deepEqual(evaluator.requestSettings, {});
  });

  test('the older nested layout: everything under one key, the evaluator name', (t) => {
    const root = tempDir(t);
    const nested = `my_nested:\n${MINIMAL_CONFIG.split('\n').map((line) => (line === '' ? line : `  ${line}`)).join('\n')}`;
    const folder = writeEvaluator(root, 'folder_name', nested, MINIMAL_TEMPLATE);
    const evaluator = loadEvaluator(folder);
    assert.equal(evaluator.name, 'my_nested');
    assert.equal(evaluator.model, 'm');
    assert.deepEqual([...evaluator.functions.keys()], ['check_answer_status']);
    assert.equal(evaluator.configSha256, sha256(nested));
  });

  test("upstream's nested tooleval_gpt-4_fn (branch format_answer_generation_code)", { skip: SKIP_WITHOUT_DATA }, () => {
    const root = dataPath(NESTED_UPSTREAM);
    const evaluator = loadEvaluator('tooleval_gpt-4_fn', root);
    assert.equal(evaluator.name, 'tooleval_gpt-4_fn');
    assert.equal(evaluator.className, 'OpenAIEvaluator', 'inferred from fn_completions: openai_completions');
    assert.equal(evaluator.model, 'gpt-4-0613');
    assert.equal(evaluator.timeoutSeconds, 60);
    assert.deepEqual(evaluator.requestSettings, { max_tokens: 100, temperature: 0 });
    assert.equal(evaluator.forcedFunction, 'choose_preference');
    // upstream's indentation puts "required" next to "parameters", not inside it: kept as written
    const schema = evaluator.functions.get('choose_preference')!;
    assert.deepEqual(schema['required'], ['preference']);
    assert.equal(schema.parameters.required, undefined);
    assert.deepEqual(evaluator.messages.map((message) => message.role), ['system', 'user']);
    assert.equal(evaluator.messages[0]!.content, 'You are a helpful annotator that choose one preferred answer based on the quality of input answers.');
    assert.ok(evaluator.messages[1]!.content.includes('Here is the task description:\n{task_description}\nHere are the candidate answers:\n{answers}\n'));
    assert.equal(evaluator.templateSha256, sha256(readFileSync(join(root, 'tooleval_gpt-4_fn', 'template.txt'))));
    throwsToolbench(
      () => requireJudgeFunctions(evaluator, ['check_answer_status', 'parse_answer_status', 'check_task_solvable'], 'judge a pass rate'),
      /--evaluator tooleval_gpt-4_fn cannot judge a pass rate: it lacks the judge function\(s\) check_answer_status, parse_answer_status, check_task_solvable/,
    );
  });

  test('requireJudgeFunctions: a function needs both a template prompt and a schema', () => {
    const evaluator = loadEvaluator(DEFAULT);
    requireJudgeFunctions(evaluator, ['check_answer_status', 'parse_answer_status', 'check_task_solvable'], 'judge a pass rate');
    const onlySchema = parseEvaluator('half', 'test', MINIMAL_CONFIG, '<function>\n<name>other</name>\n<description>x</description>\n</function>', 'c.yaml', 't.txt');
    throwsToolbench(() => requireJudgeFunctions(onlySchema, ['check_answer_status'], 'judge a pass rate'), /half cannot judge a pass rate: it lacks the judge function\(s\) check_answer_status /);
    throwsToolbench(() => requireJudgeFunctions(loadEvaluator(NORMALIZED), ['check_answer_status', 'parse_answer_status'], 'judge'), /lacks the judge function\(s\) check_answer_status, parse_answer_status /);
  });

  test('bad configurations are refused with the file and the key', (t) => {
    const root = tempDir(t);
    const load = (name: string, config: string, template = MINIMAL_TEMPLATE) => () => loadEvaluator(writeEvaluator(root, name, config, template));
    throwsToolbench(load('no_kwargs', 'evaluator_name: "x"\n'), /no_kwargs[/\\]config\.yaml: completions_kwargs: expected the judge settings/);
    throwsToolbench(load('bad_yaml', 'completions_kwargs: [\n'), /bad_yaml[/\\]config\.yaml: \$: expected YAML/);
    throwsToolbench(load('no_model', MINIMAL_CONFIG.replace('  model: "m"\n', '')), /completions_kwargs\.model: expected the judge model name/);
    throwsToolbench(load('bad_timeout', MINIMAL_CONFIG.replace('  model: "m"\n', '  model: "m"\n  timeout: -1\n')), /completions_kwargs\.timeout: expected a positive number/);
    throwsToolbench(load('no_functions', 'completions_kwargs:\n  model: "m"\n'), /completions_kwargs\.functions: expected a list of function schemas/);
    throwsToolbench(load('bad_class', `registered_cls_name: "Nope"\n${MINIMAL_CONFIG}`), /registered_cls_name: expected ReinforceToolLearningEvaluator or OpenAIEvaluator or OpenAINormalizedEvaluator, got "Nope"/);
    throwsToolbench(load('bad_forced', MINIMAL_CONFIG.replace('  model: "m"\n', '  model: "m"\n  function_call:\n    name: "ghost"\n')), /function_call\.name: expected one of the functions \(check_answer_status\), got ghost/);
    throwsToolbench(load('empty_template', MINIMAL_CONFIG, 'just text'), /empty_template[/\\]template\.txt: \$: expected <function> blocks/);
    throwsToolbench(() => loadEvaluator(join(root, 'missing_folder_entirely')), /no such evaluator/);
    const noTemplate = join(root, 'no_template');
    mkdirSync(noTemplate);
    writeFileSync(join(noTemplate, 'config.yaml'), MINIMAL_CONFIG);
    throwsToolbench(() => loadEvaluator(noTemplate), /no_template[/\\]template\.txt: no such file/);
  });
});

describe('parseTemplate', () => {
  test("upstream's regular expressions: the text between the tags, newlines included; chat messages in order", () => {
    const parsed = parseTemplate(
      'junk <function>\n<name>a</name>\n<description>\nline {x}\n</description>\n</function>\n' +
        '<function><name>no_description</name></function>\n' +
        '<function><name>b</name><description>two</description></function>' +
        '<message><role>system</role><content>S</content></message>\n<message>\n<role>user</role>\n<content>U {y}\n</content>\n</message>',
    );
    assert.deepEqual(Object.fromEntries(parsed.prompts), { a: '\nline {x}\n', b: 'two' });
    assert.deepEqual(parsed.messages, [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U {y}\n' },
    ]);
  });
});

describe('pyFormat (Python str.format with named fields)', () => {
  test('strings are inserted raw, never re-read as templates', () => {
    assert.equal(pyFormat('Query:\n{query}\nAnswer:\n{answer}\n', { query: "it's \"q\"", answer: '{not_a_field} }{' }), 'Query:\nit\'s "q"\nAnswer:\n{not_a_field} }{\n');
    assert.equal(pyFormat('{a}{a}', { a: 'x' }), 'xx');
    assert.equal(pyFormat('no fields', { unused: 1 }), 'no fields');
    assert.equal(pyFormat('café {a}', { a: 'naïve 😀' }), 'café naïve 😀');
  });

  test('{{ and }} are literal braces', () => {
    assert.equal(pyFormat('{{"a": {a}}}', { a: 1 }), '{"a": 1}');
    assert.equal(pyFormat('{{a}}', { a: 1 }), '{a}');
    assert.equal(pyFormat('}}{{', {}), '}{');
  });

  test('other values as Python str(): repr of lists, dicts, bools, None, numbers', () => {
    assert.equal(pyFormat('{v}', { v: ['a', 1, true, null] }), "['a', 1, True, None]");
    assert.equal(pyFormat('{v}', { v: { k: 'v', n: [false] } }), "{'k': 'v', 'n': [False]}");
    assert.equal(pyFormat('{v}', { v: ["it's"] }), '["it\'s"]');
    assert.equal(pyFormat('{v}', { v: true }), 'True');
    assert.equal(pyFormat('{v}', { v: null }), 'None');
    assert.equal(pyFormat('{v}', { v: 3 }), '3');
    assert.equal(pyFormat('{v}', { v: 1.5 }), '1.5');
    assert.equal(pyFormat('{v}', { v: new PyFloat(2) }), '2.0');
    assert.equal(pyFormat('{v}', { v: ['line\nbreak'] }), "['line\\nbreak']");
  });

  test('a missing key is a KeyError; stray braces and unsupported fields are refused', () => {
    const refuses = (template: string, pattern: RegExp, fields: Record<string, unknown> = { a: 1 }) =>
      assert.throws(() => pyFormat(template, fields), (error: unknown) => error instanceof PyFormatError && pattern.test(error.message));
    refuses('{missing}', /^KeyError: 'missing'$/);
    refuses('x {a', /Single '\{' encountered in format string/);
    refuses('x } y', /Single '\}' encountered in format string/);
    refuses('{a}}', /Single '\}' encountered in format string/);
    refuses('{}', /unsupported replacement field \{\}/);
    refuses('{0}', /unsupported replacement field \{0\}/);
    refuses('{a:>5}', /unsupported replacement field/);
    refuses('{a!r}', /unsupported replacement field/);
    refuses('{a.b}', /unsupported replacement field/);
    // inherited properties are not fields
    refuses('{constructor}', /^KeyError: 'constructor'$/, {});
  });

  test('every built-in <function> prompt fills with the fields ToolEval passes', () => {
    const fields: Record<string, Record<string, unknown>> = {
      check_answer_status: { query: 'Q', answer: 'A' },
      parse_answer_status: { query: 'Q', answer: 'A' },
      check_task_solvable: { task: 'T' },
      select_better_answer: { query: 'Q', answer_0: 'A0', answer_1: 'A1' },
      parse_answer_details: { answer_details: 'D' },
      select_best_final_answer: { query: 'Q', final_answers: 'F' },
      check_solve_query: { query: 'Q', final_answer: 'F' },
    };
    for (const name of [DEFAULT, NORMALIZED]) {
      for (const [fn, template] of loadEvaluator(name).prompts) {
        const filled = pyFormat(template, fields[fn]!);
        assert.doesNotMatch(filled, /\{[a-z_0-9]+\}/, `${name} ${fn}`);
        throwsKeyError(() => pyFormat(template, {}), `${name} ${fn}`);
      }
    }
    for (const message of loadEvaluator(FN).messages.filter((item) => item.role === 'user')) {
      assert.ok(pyFormat(message.content, { task_description: 'TD', answers: 'AN' }).includes('in JSON format:\nTD\n\nHere are the candidate answers in JSON format:\nAN\n\n'));
    }
  });
});

function throwsKeyError(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => error instanceof PyFormatError && /^KeyError: '/.test(error.message), message);
}
