/**
 * One call of the agent (algorithms.md §2.4, §5): `Finish` is answered here; any other name is
 * resolved against the function list and sent to the tool environment.
 */
import { TOOL_STATUS, type ToolStatus } from '../env/status.js';
import type { ToolCallSource, ToolEnv } from '../env/tool-call.js';
import { FINISH_FUNCTION, noSuchFunctionError } from '../protocol/prompts.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { finishCall } from './finish.js';
import type { SearchTask } from './types.js';

export interface StepOutcome {
  readonly observation: string;
  readonly status: ToolStatus;
  readonly source?: ToolCallSource;
}

export async function agentStep(task: SearchTask, env: ToolEnv, name: string, args: string, signal?: AbortSignal): Promise<StepOutcome> {
  if (name === FINISH_FUNCTION.name) return finishCall(args);
  const index = resolveFunction(task, name);
  const api = index === undefined ? undefined : task.apis[index];
  if (api === undefined) {
    return { observation: pyJsonDumps({ error: noSuchFunctionError(name), response: '' }), status: TOOL_STATUS.noSuchFunction };
  }
  const result = await env.call(api, args, { signal });
  return { observation: result.observation, status: result.status, source: result.source };
}

/**
 * The first function whose name ends with the name the model wrote (upstream's suffix match, so
 * `quote_for_olato_quotes` reaches `love_quote_for_olato_quotes`). Unlike upstream, an empty
 * name matches nothing, a suffix of `Finish` (`ish`) is an unknown function instead of a crash,
 * and of two functions with the same name the first is called as a whole (upstream takes the
 * category and tool of the first and the API name of the last: quirk 2).
 */
export function resolveFunction(task: SearchTask, name: string): number | undefined {
  if (name === '') return undefined;
  const index = task.functions.findIndex((fn) => fn.name.endsWith(name));
  return index < 0 || task.apis[index] === undefined ? undefined : index;
}
