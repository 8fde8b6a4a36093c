/**
 * `annotate_preference` (tooleval.md §6.2) with the default evaluator's comparison (§6.3) or the
 * `fn` evaluator's single chat call (§7). Returns which of [reference, candidate] is preferred.
 *
 * Fixed on purpose: the answer statuses are shuffled together with the answers (upstream
 * shuffles only the answers, quirk 1), the shuffle and coin tosses are seeded, and the shared
 * examples are not mutated (quirk 11; the same values result in every round).
 */
import { pyJsonDumps } from '../util/pyjson.js';
import { orderedKeys, type PyObject, type PyValue } from '../util/py-value.js';
import { usageError } from '../util/errors.js';
import { UnusableReply, type Judge, type JudgeJob } from './judge.js';
import { checkIsSolved, checkTaskSolvable, preferenceView, pythonInt, selectBetterAnswer, type AnswerStatus, type TaskStatus } from './tooleval-judge.js';

export interface PreferenceTask {
  readonly query: string;
  /** The reference answer's tools, as upstream passes them. */
  readonly availableTools: readonly PyValue[];
  /** [reference, candidate] answer objects. */
  readonly answers: readonly [PyObject, PyObject];
  /** From pass-rate results with --use-pass-rate; judged when absent. */
  readonly taskStatus?: TaskStatus;
  readonly answerStatuses?: readonly [AnswerStatus, AnswerStatus];
}

/** A uniform draw in [0, 1) for a named decision of this job. */
export type Coin = (purpose: string) => number;

/** 0: the reference is preferred, 1: the candidate. */
export async function annotatePreference(judge: Judge, job: JudgeJob, task: PreferenceTask, coin: Coin): Promise<0 | 1> {
  const order: readonly [0 | 1, 0 | 1] = coin('order') < 0.5 ? [0, 1] : [1, 0];
  const answers = [preferenceView(task.answers[order[0]]), preferenceView(task.answers[order[1]])] as const;
  const statuses = task.answerStatuses === undefined ? undefined : ([task.answerStatuses[order[0]], task.answerStatuses[order[1]]] as const);
  const tools = task.availableTools.map(withoutDescription);
  let chosen: number;
  switch (judge.evaluator.className) {
    case 'ReinforceToolLearningEvaluator':
      chosen = await compareByStatus(judge, job, { query: task.query, tools, answers, statuses, taskStatus: task.taskStatus }, coin);
      break;
    case 'OpenAIEvaluator':
      chosen = await choosePreference(judge, job, task.query, tools, answers);
      break;
    default:
      throw usageError(`--evaluator ${judge.evaluator.name} (${judge.evaluator.className}) cannot judge preferences here; use tooleval_gpt-3.5-turbo_default or a fn evaluator`);
  }
  return order[chosen] as 0 | 1;
}

/** Upstream deletes each tool's top-level `description` and `parameters` before judging. */
function withoutDescription(tool: PyValue): PyValue {
  if (typeof tool !== 'object' || tool === null || Array.isArray(tool)) return tool;
  const record = tool as PyObject;
  return Object.fromEntries(orderedKeys(record).filter((key) => key !== 'description' && key !== 'parameters').map((key) => [key, record[key] as PyValue]));
}

interface Comparison {
  readonly query: string;
  readonly tools: readonly PyValue[];
  readonly answers: readonly [PyObject, PyObject];
  readonly statuses: readonly [AnswerStatus, AnswerStatus] | undefined;
  readonly taskStatus: TaskStatus | undefined;
}

/** `normalized_openai_completions` of ReinforceToolLearningEvaluator (§6.3). */
async function compareByStatus(judge: Judge, job: JudgeJob, comparison: Comparison, coin: Coin): Promise<number> {
  const { query, answers } = comparison;
  const statuses =
    comparison.statuses ??
    ([(await checkIsSolved(judge, job, { query, answer: answers[0] }, false)).status, (await checkIsSolved(judge, job, { query, answer: answers[1] }, false)).status] as const);
  const both = [0, 1];
  const taskStatus = async (solvedBefore: boolean): Promise<TaskStatus> =>
    comparison.taskStatus ?? (await checkTaskSolvable(judge, job, { query, availableTools: comparison.tools }, solvedBefore, false)).status;
  const select = (): Promise<number> => selectBetterAnswer(judge, job, query, answers, both, () => coin('identical answers'));
  const solved = both.filter((index) => statuses[index] === 'Solved');
  if (solved.length === 1) return solved[0] as number;
  if (solved.length === 2) {
    await taskStatus(true);
    return select();
  }
  const unsure = both.filter((index) => statuses[index] === 'Unsure');
  if (unsure.length === 1) return unsure[0] as number;
  // upstream asks for the task status although the comparison prompt does not use it (quirk 7)
  await taskStatus(false);
  return select();
}

/** `openai_completions` of OpenAIEvaluator (the `fn` evaluators, §7): one chat call. */
async function choosePreference(judge: Judge, job: JudgeJob, query: string, tools: readonly PyValue[], answers: readonly [PyObject, PyObject]): Promise<number> {
  const fn = judge.evaluator.forcedFunction ?? [...judge.evaluator.functions.keys()][0]!;
  const fields = { task_description: pyJsonDumps({ query, available_tools: tools }), answers: pyJsonDumps(answers) };
  const reply = await judge.callMessages(job, fn, fields, (args) => {
    const value = args['preference'];
    const index = pythonInt(value);
    if (index !== 0 && index !== 1) throw new UnusableReply(`preference must be 0 or 1, got ${JSON.stringify(value) ?? 'nothing'}`);
    return index;
  });
  return reply.value;
}
