/**
 * The judging steps of ToolEval's default evaluator, `ReinforceToolLearningEvaluator`
 * (tooleval.md §3.4, §6.3), over a Judge that makes the function calls.
 */
import { pyJsonDumps } from '../util/pyjson.js';
import { orderedKeys, type PyObject, type PyValue } from '../util/py-value.js';
import type { ConvertedAnswer } from './converted.js';
import { readLabel, UnusableReply, type Judge, type JudgeJob } from './judge.js';

export const ANSWER_STATUSES = ['Unsure', 'Unsolved', 'Solved'] as const;
export type AnswerStatus = (typeof ANSWER_STATUSES)[number];
export const TASK_STATUSES = ['Unsure', 'Unsolvable', 'Solvable'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type PassVerdict = 'Passed' | 'Failed' | 'Unsure';

export interface Judged<S> {
  readonly status: S;
  readonly reason: string;
}

/** What is judged: the query and one answer object (`method`, `total_steps`, `final_answer`, `answer_details`). */
export interface AnswerUnderTest {
  readonly query: string;
  readonly answer: PyObject;
}

export function answerUnderTest(converted: ConvertedAnswer): AnswerUnderTest {
  return { query: converted.query, answer: converted.answer };
}

/** `check_is_solved`: an empty or give-up final answer is Unsolved without asking. */
export async function checkIsSolved(judge: Judge, job: JudgeJob, item: AnswerUnderTest, returnReason: boolean): Promise<Judged<AnswerStatus>> {
  const finalAnswer = item.answer['final_answer'];
  if (typeof finalAnswer !== 'string' || finalAnswer === '' || finalAnswer.includes('give_up_and_restart')) {
    return { status: 'Unsolved', reason: 'Empty final answer!' };
  }
  const first = await judge.call(job, 'check_answer_status', { query: item.query, answer: finalAnswer }, { returnReason }, readLabel('answer_status', ANSWER_STATUSES));
  if (first.value !== 'Unsure') return { status: first.value, reason: reasonOf(first.args) };
  const second = await judge.call(job, 'parse_answer_status', { query: item.query, answer: pyJsonDumps(item.answer) }, { returnReason }, readLabel('answer_status', ANSWER_STATUSES));
  return { status: second.value, reason: reasonOf(second.args) };
}

/** `check_task_solvable`: a task already solved is Solvable without asking. */
export async function checkTaskSolvable(
  judge: Judge,
  job: JudgeJob,
  task: { readonly query: string; readonly availableTools: readonly PyValue[] },
  hasBeenSolved: boolean,
  returnReason: boolean,
): Promise<Judged<TaskStatus>> {
  if (hasBeenSolved) return { status: 'Solvable', reason: 'Task has been solved before.' };
  const fields = { task: pyJsonDumps({ query: task.query, available_tools: task.availableTools }) };
  const reply = await judge.call(job, 'check_task_solvable', fields, { returnReason }, readLabel('task_status', TASK_STATUSES));
  return { status: reply.value, reason: reasonOf(reply.args) };
}

/** `is_passed` (tooleval.md §3.4 table). */
export function isPassed(answer: AnswerStatus, task: TaskStatus): PassVerdict {
  if (answer === 'Solved' || task === 'Unsolvable') return 'Passed';
  if (answer === 'Unsolved' && task === 'Solvable') return 'Failed';
  return 'Unsure';
}

/**
 * `select_better_answer` (§6.3 step 5): identical answers are a coin toss (`tossCoin`, seeded by
 * the caller); otherwise the judge's index, which must be one of `indices`.
 */
export async function selectBetterAnswer(
  judge: Judge,
  job: JudgeJob,
  query: string,
  answers: readonly [PyObject, PyObject],
  indices: readonly number[],
  tossCoin: () => number,
): Promise<number> {
  if (sameAnswer(answers[0], answers[1])) return indices[Math.floor(tossCoin() * indices.length)] as number;
  const fields = { query, answer_0: pyJsonDumps(answers[0]), answer_1: pyJsonDumps(answers[1]) };
  const reply = await judge.call(job, 'select_better_answer', fields, { returnReason: true }, (args) => {
    const index = pythonInt(args['index']);
    if (index === undefined || !indices.includes(index)) throw new UnusableReply(`index must be one of ${indices.join(', ')}, got ${JSON.stringify(args['index']) ?? 'nothing'}`);
    return index;
  });
  return reply.value;
}

/** Python `int(x)` of a JSON value (a number, a numeric string, a bool); undefined where int() would raise. */
export function pythonInt(value: unknown): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

function sameAnswer(a: PyObject, b: PyObject): boolean {
  return a['final_answer'] === b['final_answer'] && pyJsonDumps(a['answer_details'] ?? null) === pyJsonDumps(b['answer_details'] ?? null);
}

function reasonOf(args: Record<string, unknown>): string {
  const reason = args['reason'];
  return typeof reason === 'string' ? reason : '';
}

/**
 * `annotate_preference`'s preparation (§6.2): the final answer cut to 1000 characters (code
 * points, as Python slices) and `method` dropped. Upstream does this in place on shared objects
 * (quirk 11); here a copy is made, which gives the same values in every round.
 */
export function preferenceView(answer: PyObject): PyObject {
  const out: Record<string, PyValue> = {};
  for (const key of orderedKeys(answer)) {
    if (key === 'method') continue;
    const value = answer[key] as PyValue;
    out[key] = key === 'final_answer' && typeof value === 'string' ? Array.from(value).slice(0, 1000).join('') : value;
  }
  return out;
}
