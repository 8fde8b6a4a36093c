/**
 * Runs one task with the chosen method and builds its answer file (formats.md §3).
 */
import { AGENT_SYSTEM_PROMPT, AGENT_USER_PROMPT } from '../protocol/prompts.js';
import { pyReplace } from '../util/py-string.js';
import { pyJsonDumps } from '../util/pyjson.js';
import type { PyObject, PyValue } from '../util/py-value.js';
import { seededUniform } from '../util/seeded-random.js';
import type { ChatMessage } from '../llm/backbone.js';
import { toToolsShape } from '../registry/function-schema.js';
import { chainOfThought } from './cot.js';
import { depthFirstSearch } from './dfs.js';
import { SearchNode } from './node.js';
import { SearchState } from './step.js';
import { trainMessages } from './train-messages.js';
import { pathRecords, nodeRecord, treeSize } from './tree-json.js';
import type { FinishType, SearchOptions, SearchResult, SearchTask } from './types.js';

export async function runSearch(task: SearchTask, options: SearchOptions): Promise<SearchResult> {
  const state = new SearchState(task, options);
  const rootMessages = task.rootMessages ?? initialMessages(task);
  const method = options.method;
  if (method.family === 'CoT') {
    const outcome = await chainOfThought(state, rootMessages, method.passAt);
    const answered = outcome.attempts.find((attempt) => !attempt.end.pruned && attempt.end.success);
    const generation: Record<string, unknown> = {
      valid_data: answered !== undefined,
      final_answer: answered?.end.description ?? '',
      function: functionList(task, options),
      query_count: state.queryCount,
      total_tokens: state.totalTokens,
      train_messages: answered === undefined ? [] : trainMessages(answered.end),
      chain: [],
      query: task.query,
    };
    const answer = {
      win: outcome.win,
      try_count: outcome.attempts.length,
      trys: outcome.attempts.map((attempt) => ({ chain: pathRecords(attempt.end), win: attempt.winBefore })),
      // CoT stops at the first answer, so there is at most one
      compare_candidates: answered === undefined ? [] : [pathRecords(answered.end)],
      forward_args: { single_chain_max_step: options.maxDepth, pass_at: method.passAt, answer: 1 },
      answer_generation: generation,
      toolbench: runRecord(state, { stoppedBy: outcome.budgetSpent ? 'max-query-count' : undefined }),
    };
    return result(state, answer, outcome.win, answered === undefined ? 'none' : 'give_answer', outcome.budgetSpent, answered?.end);
  }

  const root = SearchNode.root(rootMessages);
  const legacy2023 = options.compat?.has('dfs-2023') ?? false;
  const outcome = await depthFirstSearch(state, root, { width: method.width, withFilter: method.withFilter, legacy2023 });
  const answered = outcome.terminal.filter((node) => !node.pruned);
  let chosen: SearchNode | undefined = answered[0];
  let finishType: FinishType = chosen === undefined ? 'none' : 'give_answer';
  let giveUpChoice: PyObject | undefined;
  if (chosen === undefined && outcome.giveUps.length > 0 && !legacy2023) {
    const { index, by } = chooseGiveUp(task, outcome.giveUps, options.seed);
    chosen = outcome.giveUps[index];
    finishType = 'give_up';
    giveUpChoice = { candidates: outcome.giveUps.length, chosen: index, by };
  }
  const generation: Record<string, unknown> = {
    valid_data: chosen !== undefined,
    query_count: state.queryCount,
    total_tokens: state.totalTokens,
    final_answer: chosen?.description ?? '',
    finish_type: finishType === 'give_up' ? 'give_up' : 'give_answer',
    function: functionList(task, options),
    chain: [],
  };
  if (chosen !== undefined) generation.train_messages = trainMessages(chosen);
  generation.query = task.query;
  const { size, maxLength } = treeSize(root);
  const win = outcome.terminal.length > 0;
  const answer = {
    win,
    tree: { size, max_length: maxLength, tree: nodeRecord(root, true) },
    forward_args: {
      single_chain_max_step: options.maxDepth,
      tree_beam_size: method.width,
      max_query_count: options.maxQueryCount,
      answer: 1,
      with_filter: method.withFilter,
    },
    compare_candidates: answered.map((node) => pathRecords(node)),
    answer_generation: generation,
    toolbench: runRecord(state, { stoppedBy: outcome.budgetSpent ? 'max-query-count' : undefined, giveUpChoice }),
  };
  return result(state, answer, win, finishType, outcome.budgetSpent, answered[0]);
}

/**
 * Which give-up to report when no answer was found. Upstream draws with Python's process-wide
 * RNG (quirk 20), which no one can repeat; a draw seeded by the run's seed and the query id can.
 * A replay takes the one the recording reported.
 */
function chooseGiveUp(task: SearchTask, giveUps: readonly SearchNode[], seed: number): { index: number; by: string } {
  if (task.recordedTrainMessages !== undefined) {
    const recorded = pyJsonDumps(task.recordedTrainMessages);
    const index = giveUps.findIndex((node) => pyJsonDumps(trainMessages(node)) === recorded);
    if (index >= 0) return { index, by: 'recording' };
  }
  return { index: Math.floor(seededUniform(seed, task.queryId, 'give-up') * giveUps.length), by: 'seed' };
}

/** [system, user] from the prompts (algorithms.md §4.3). */
export function initialMessages(task: SearchTask): ChatMessage[] {
  return [
    { role: 'system', content: pyReplace(AGENT_SYSTEM_PROMPT, '{task_description}', task.taskDescription) },
    { role: 'user', content: pyReplace(AGENT_USER_PROMPT, '{input_description}', task.query) },
  ];
}

/** `answer_generation.function`: as recorded, else the list in the backbone's shape. */
function functionList(task: SearchTask, options: SearchOptions): readonly PyValue[] {
  if (task.recordedFunctionList !== undefined) return task.recordedFunctionList;
  const list = options.backbone.shape === 'tools' ? toToolsShape(task.functions) : task.functions;
  return list as unknown as readonly PyValue[];
}

/**
 * Our additions to the answer file, under one key that upstream readers ignore: what produced
 * it and the choices the engine made, so a run can be audited and repeated.
 */
function runRecord(state: SearchState, extra: { stoppedBy?: string; giveUpChoice?: PyObject }): PyObject {
  const { options } = state;
  const record: Record<string, PyValue> = {
    method: options.method.name,
    backbone: options.backbone.describe(),
    seed: options.seed,
    compat: [...(options.compat ?? [])].sort(),
    cost: state.cost,
  };
  if (extra.giveUpChoice !== undefined) record.give_up_choice = extra.giveUpChoice;
  if (extra.stoppedBy !== undefined) record.stopped_by = extra.stoppedBy;
  return record;
}

function result(state: SearchState, answer: Record<string, unknown>, win: boolean, finishType: FinishType, budgetSpent: boolean, answered: SearchNode | undefined): SearchResult {
  return {
    answer: answer as PyObject,
    win,
    finishType,
    queryCount: state.queryCount,
    totalTokens: state.totalTokens,
    cost: state.cost,
    ...(budgetSpent ? { stoppedBy: 'max-query-count' as const } : {}),
    ...(answered === undefined ? {} : { answered: { description: answered.description, messages: answered.messages.toArray() } }),
  };
}
