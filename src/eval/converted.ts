/**
 * Reading what ToolEval scores: converted answers (formats.md §4) and test-id files
 * (formats.md §2.2), and upstream's `get_steps` (tooleval.md §2.3).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inputError, usageError, describeJsonType } from '../util/errors.js';
import { readTestIds as readTestIdFile } from '../registry/query-file.js';
import { readJsonFile } from '../util/json-file.js';
import { isPyObject, isPyTruthy, orderedKeys, type PyObject, type PyValue } from '../util/py-value.js';
import { pyStr } from '../util/pyrepr.js';

/** ToolBench's six test sets, in upstream's order (tooleval.md §1). */
export const TEST_SETS = ['G1_instruction', 'G1_category', 'G1_tool', 'G2_instruction', 'G2_category', 'G3_instruction'] as const;

/** A converted answer entry, checked where scoring reads it; the rest is kept as read. */
export interface ConvertedAnswer {
  readonly qid: string;
  readonly query: string;
  readonly availableTools: readonly PyValue[];
  /** The `answer` object as read (method, total_steps, final_answer, answer_details). */
  readonly answer: PyObject;
}

export interface ConvertedFile {
  readonly file: string;
  readonly answers: ReadonlyMap<string, ConvertedAnswer>;
  /** Entries that cannot be scored: counted as missing, reported with the reason. */
  readonly unreadable: ReadonlyMap<string, string>;
}

/** `<converted>/<model>/<set>.json`; a file that is not there means no answers. */
export function convertedFilePath(convertedDir: string, model: string, testSet: string): string {
  return join(convertedDir, model, `${testSet}.json`);
}

export function readConvertedFile(file: string): ConvertedFile {
  const answers = new Map<string, ConvertedAnswer>();
  const unreadable = new Map<string, string>();
  if (!existsSync(file)) return { file, answers, unreadable };
  const data = readJsonFile(file);
  if (!isPyObject(data)) throw inputError(file, '$', 'an object keyed by query id (the converted answer format)', { got: describeJsonType(data) });
  for (const qid of orderedKeys(data)) {
    const entry = data[qid];
    const problem = checkEntry(entry);
    if (problem !== undefined) unreadable.set(qid, `${file}: ${JSON.stringify(qid)}${problem}`);
    else answers.set(qid, toAnswer(qid, entry as PyObject));
  }
  return { file, answers, unreadable };
}

function checkEntry(entry: PyValue | undefined): string | undefined {
  if (!isPyObject(entry)) return `: expected an object, got ${describeJsonType(entry)}`;
  if (typeof entry['query'] !== 'string') return `.query: expected a string, got ${describeJsonType(entry['query'])}`;
  if (!Array.isArray(entry['available_tools'])) return `.available_tools: expected a list, got ${describeJsonType(entry['available_tools'])}`;
  const answer = entry['answer'];
  if (!isPyObject(answer)) return `.answer: expected an object, got ${describeJsonType(answer)}`;
  if (typeof answer['final_answer'] !== 'string') return `.answer.final_answer: expected a string, got ${describeJsonType(answer['final_answer'])}`;
  const details = answer['answer_details'];
  if (!Array.isArray(details) || !isPyObject(details[0])) return '.answer.answer_details: expected a list holding the root node';
  return undefined;
}

function toAnswer(qid: string, entry: PyObject): ConvertedAnswer {
  const answer = entry['answer'] as PyObject;
  return {
    qid,
    query: entry['query'] as string,
    availableTools: entry['available_tools'] as readonly PyValue[],
    answer,
  };
}

/** The keys of `<test-ids>/<set>.json`, in file order, once each (a repeated key is one query). */
export function readTestIds(testIdsDir: string, testSet: string): string[] {
  const file = join(testIdsDir, `${testSet}.json`);
  if (!existsSync(file)) throw usageError(`--test-ids ${testIdsDir}: no ${testSet}.json (an object {"<query_id>": ...} listing the test set)`);
  return [...new Set(readTestIdFile(file))];
}

export interface AnswerSteps {
  /** `Step <n>: <str(message)>` per tool node, joined with newlines. */
  readonly answerSteps: string;
  /** `Final step: <str(last tool message)>`, or `""`. */
  readonly finalStep: string;
  /** Messages of every tool node along the path, empty ones too (for the hallucination check). */
  readonly toolMessages: readonly PyValue[];
}

const stepsOf = new WeakMap<PyObject, AnswerSteps>();

/**
 * Upstream `get_steps`: follow `answer_details[0]`, then always `next[0]`. Remembered per answer
 * object: result files are rewritten while a run goes on, and answers do not change.
 */
export function getSteps(answer: PyObject): AnswerSteps {
  let steps = stepsOf.get(answer);
  if (steps === undefined) {
    steps = readSteps(answer);
    stepsOf.set(answer, steps);
  }
  return steps;
}

function readSteps(answer: PyObject): AnswerSteps {
  const lines: string[] = [];
  const toolMessages: PyValue[] = [];
  let finalStep = '';
  let node = (answer['answer_details'] as readonly PyValue[])[0];
  while (isPyObject(node)) {
    const message = node['message'];
    if (node['role'] === 'tool') toolMessages.push(message ?? null);
    if (node['role'] === 'tool' && isPyTruthy(message)) {
      const text = pyStr(message);
      lines.push(`Step ${lines.length + 1}: ${text}`);
      finalStep = `Final step: ${text}`;
    }
    const next = node['next'];
    node = Array.isArray(next) ? next[0] : undefined;
  }
  return { answerSteps: lines.join('\n'), finalStep, toolMessages };
}

/** The pass-rate job's first test: a final step that is a Finish call (tooleval.md §4 step 1, quirk 12). */
export function endsWithFinish(steps: AnswerSteps): boolean {
  return steps.finalStep.includes("'name': 'Finish'");
}

/** Tool names of the available tools (`tool_names` in result files). */
export function toolNames(tools: readonly PyValue[]): string[] {
  return tools.map((tool) => (isPyObject(tool) ? nameOf(tool) : undefined)).filter((name): name is string => name !== undefined);
}

function nameOf(tool: PyObject): string | undefined {
  if (typeof tool['name'] === 'string') return tool['name'];
  const fn = tool['function'];
  return isPyObject(fn) && typeof fn['name'] === 'string' ? fn['name'] : undefined;
}

/**
 * `check_has_hallucination` (tooleval.md §3.4): every tool node's name, read by regex from the
 * repr of its message, is one of the available tools. Upstream's check raises on the first
 * message without a name and then answers "no hallucination": so does this one.
 */
export function notHallucinated(tools: readonly PyValue[], steps: AnswerSteps): boolean {
  const names = new Set(toolNames(tools));
  for (const message of steps.toolMessages) {
    const match = /'name':\s*'(.*?)'/.exec(pyStr(message));
    if (match === null) return true;
    if (!names.has(match[1] as string)) return false;
  }
  return true;
}
