/**
 * The `Finish` function, which the agent environment answers itself (algorithms.md §5.1).
 */
import { FINISH_OBSERVATION } from '../protocol/prompts.js';
import { TOOL_STATUS, type ToolStatus } from '../env/status.js';
import { pyJsonParse } from '../util/pyjson-parse.js';
import { isPyObject, type PyObject } from '../util/py-value.js';

export interface FinishOutcome {
  readonly observation: string;
  readonly status: ToolStatus;
}

const RETURN_TYPE_MARK = '"return_type": "';
const FINAL_ANSWER_MARK = '"final_answer": "';

export function finishCall(args: string): FinishOutcome {
  const input = parseFinishArguments(args);
  if (!('return_type' in input)) return { observation: FINISH_OBSERVATION.missingReturnType, status: TOOL_STATUS.badFinishInput };
  const returnType = input.return_type;
  if (returnType === 'give_up_and_restart') return { observation: FINISH_OBSERVATION.giveUp, status: TOOL_STATUS.giveUp };
  if (returnType === 'give_answer') {
    return 'final_answer' in input
      ? { observation: FINISH_OBSERVATION.finalAnswer, status: TOOL_STATUS.finalAnswer }
      : { observation: FINISH_OBSERVATION.missingFinalAnswer, status: TOOL_STATUS.badFinishInput };
  }
  return { observation: FINISH_OBSERVATION.badReturnType, status: TOOL_STATUS.badFinishInput };
}

/**
 * JSON (raw control characters allowed, as Python's `strict=False`), else upstream's substring
 * fallback. JSON that is not an object counts as an object without keys (upstream crashes).
 */
export function parseFinishArguments(args: string): PyObject {
  try {
    const value = pyJsonParse(args, { strict: false });
    return isPyObject(value) ? value : {};
  } catch {
    return fallbackFinishArguments(args);
  }
}

function fallbackFinishArguments(args: string): PyObject {
  const input: Record<string, string> = {};
  if (args.includes(RETURN_TYPE_MARK)) {
    if (args.includes(`${RETURN_TYPE_MARK}give_answer"`)) input.return_type = 'give_answer';
    else if (args.includes(`${RETURN_TYPE_MARK}give_up_and_restart"`)) input.return_type = 'give_up_and_restart';
    else input.return_type = pySlice(args, args.indexOf(RETURN_TYPE_MARK) + RETURN_TYPE_MARK.length, args.indexOf('",'));
  }
  const answerAt = args.indexOf(FINAL_ANSWER_MARK);
  if (answerAt >= 0) input.final_answer = args.slice(answerAt + FINAL_ANSWER_MARK.length);
  return input;
}

/** Python's `s[start:end]` where `end` may be -1 (from `find`). Only the result's emptiness and identity matter here. */
function pySlice(text: string, start: number, end: number): string {
  const stop = end < 0 ? text.length + end : end;
  return stop <= start ? '' : text.slice(start, stop);
}
