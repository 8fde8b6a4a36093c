/**
 * One pass-rate job: one answer, one evaluation run (tooleval.md §4 ToolBench, §5 StableToolBench).
 */
import { seededUniform } from '../util/seeded-random.js';
import { endsWithFinish, notHallucinated, type AnswerSteps, type ConvertedAnswer } from './converted.js';
import type { Judge, JudgeJob } from './judge.js';
import type { Protocol } from './summary.js';
import { answerUnderTest, checkIsSolved, checkTaskSolvable, isPassed, type AnswerStatus, type TaskStatus } from './tooleval-judge.js';

export interface RunVerdict {
  readonly answerStatus: AnswerStatus;
  /** toolbench only. */
  readonly taskStatus?: TaskStatus;
  /** toolbench only: Unsure verdicts are settled by a seeded coin (upstream: unseeded). */
  readonly label?: 'passed' | 'failed';
  readonly reason?: string;
  readonly notHallucinate?: boolean;
}

export interface PassRateJobInput {
  readonly protocol: Protocol;
  readonly testSet: string;
  readonly answer: ConvertedAnswer;
  readonly steps: AnswerSteps;
  readonly run: number;
  readonly seed: number;
}

export async function judgeRun(judge: Judge, job: JudgeJob, input: PassRateJobInput): Promise<RunVerdict> {
  const { answer, steps } = input;
  const hasFinish = endsWithFinish(steps);
  if (input.protocol === 'stable') {
    if (!hasFinish) return { answerStatus: 'Unsolved' };
    const solved = await checkIsSolved(judge, job, answerUnderTest(answer), true);
    return { answerStatus: solved.status };
  }
  const notHallucinate = notHallucinated(answer.availableTools, steps);
  if (!hasFinish) return { answerStatus: 'Unsolved', taskStatus: 'Solvable', label: 'failed', reason: 'No answer', notHallucinate };
  const solved = await checkIsSolved(judge, job, answerUnderTest(answer), true);
  const task = await checkTaskSolvable(judge, job, answer, solved.status === 'Solved', true);
  const verdict = isPassed(solved.status, task.status);
  const label = verdict === 'Passed' ? 'passed' : verdict === 'Failed' ? 'failed' : unsureCoin(input);
  return { answerStatus: solved.status, taskStatus: task.status, label, reason: `Is solved: ${solved.reason}\nTask solvable: ${task.reason}`, notHallucinate };
}

function unsureCoin(input: PassRateJobInput): 'passed' | 'failed' {
  return seededUniform(input.seed, 'pass-rate-unsure', input.testSet, input.answer.qid, String(input.run)) < 0.5 ? 'passed' : 'failed';
}

/** What a run scores: toolbench pass 1 / fail 0; stable Solved 1, Unsure 0.5, Unsolved 0. */
export function runScore(protocol: Protocol, verdict: RunVerdict | undefined): number {
  if (verdict === undefined) return 0;
  if (protocol === 'toolbench') return verdict.label === 'passed' ? 1 : 0;
  return verdict.answerStatus === 'Solved' ? 1 : verdict.answerStatus === 'Unsure' ? 0.5 : 0;
}
