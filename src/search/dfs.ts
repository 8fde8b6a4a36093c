/**
 * DFSDT (`DFS_woFilter_wN`) and DFS with LLM ranking (`DFS_wFilter_wN`), algorithms.md §9.
 *
 * A frame is one state (the node a model call starts from). It may be expanded up to `width`
 * times; each expansion is one model call that creates one chain of nodes, searched depth first
 * before the next expansion. Return values say how many frames to unwind: 1 = try the parent's
 * next expansion, 2 = give up the parent state too, larger = the search is over.
 */
import { DIVERSITY_FORMER_OBSERVATION, DIVERSITY_PROMPT } from '../protocol/prompts.js';
import { TOOL_STATUS } from '../env/status.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { PyFloat } from '../util/py-value.js';
import type { ChatMessage } from '../llm/backbone.js';
import { makeFinish, type SearchNode } from './node.js';
import { rankCandidates } from './rank.js';
import { applyCompletion, type SearchState } from './step.js';

/** Every frame returns at least this once an answer is found. */
const ANSWER_FOUND = 10_000;
/** The frame that spends the last allowed call returns this; every ancestor unwinds. */
const BUDGET_SPENT = 100_000;

export interface DfsOutcome {
  /** Nodes where a final answer was given (at most one: the search stops at the first). */
  readonly terminal: SearchNode[];
  /** Nodes where the model gave up (`give_up_and_restart`), in the order reached. */
  readonly giveUps: SearchNode[];
  readonly budgetSpent: boolean;
}

export async function depthFirstSearch(
  state: SearchState,
  root: SearchNode,
  options: { width: number; withFilter: boolean; legacy2023: boolean },
): Promise<DfsOutcome> {
  const outcome: DfsOutcome & { budgetSpent: boolean } = { terminal: [], giveUps: [], budgetSpent: false };
  let visits = 0;
  const { maxDepth } = state.options;

  const frame = async (node: SearchNode): Promise<number> => {
    node.expandNum = visits++;
    state.emit({ type: 'node', depth: node.depth, nodeType: node.type, expandNum: node.expandNum });
    const cutByDepth = node.depth >= maxDepth;
    if (cutByDepth || node.pruned || node.isTerminal) {
      if (node.isTerminal) {
        outcome.terminal.push(node);
        return 2;
      }
      node.pruned = true;
      if (node.observationCode === TOOL_STATUS.giveUp) {
        outcome.giveUps.push(node);
        return 2;
      }
      return options.legacy2023 && cutByDepth ? 2 : 1;
    }
    const candidates: SearchNode[] = [];
    for (let i = 0; i < options.width; i++) {
      const diversity = node.children.length > 0 ? diversityMessage(node) : undefined;
      if (diversity !== undefined) node.messages = node.messages.append(diversity);
      const completion = await state.callAgent(node);
      if (state.budgetSpent) {
        outcome.budgetSpent = true;
        return BUDGET_SPENT;
      }
      if (diversity !== undefined) diversity.valid = false;
      const leaf = await applyCompletion(state, node, completion, true);
      if (options.withFilter) {
        state.emit({ type: 'step_end', depth: node.depth });
        candidates.push(leaf);
        continue;
      }
      const result = await frame(leaf);
      // also when the budget ran out below: only the step that spent it reports no end (upstream)
      state.emit({ type: 'step_end', depth: node.depth });
      if (outcome.terminal.length > 0) return ANSWER_FOUND;
      if (result > 1) return result - 1;
    }
    if (!options.withFilter) return 1;
    const ordered = candidates.length >= 2 ? await byRank(state, candidates) : candidates;
    for (const candidate of ordered) {
      const result = await frame(candidate);
      if (outcome.terminal.length > 0) return ANSWER_FOUND;
      if (result > 1) {
        makeFinish(node, 2);
        return result - 1;
      }
    }
    return 1;
  };

  await frame(root);
  return outcome;
}

async function byRank(state: SearchState, candidates: readonly SearchNode[]): Promise<SearchNode[]> {
  const scores = await rankCandidates(state, candidates);
  return candidates
    .map((candidate, index) => ({ candidate, score: scores[index] as number, index }))
    .sort((left, right) => right.score - left.score || left.index - right.index)
    .map((entry) => entry.candidate);
}

/**
 * The diversity prompt (algorithms.md §9.6): the first call of each earlier expansion of this
 * state, so the model tries something else. Undefined when no expansion reached a call.
 */
function diversityMessage(node: SearchNode): ChatMessage | undefined {
  const previous: Record<string, unknown>[] = [];
  for (const child of node.children) {
    let current = child;
    while (!current.isTerminal && current.type !== 'Action Input' && current.children.length > 0) current = current.children[0] as SearchNode;
    if (current.type !== 'Action Input') continue;
    previous.push({
      name: current.parent?.description ?? '',
      arguments: current.description,
      function_output: current.observation,
      'mento-carlo-action-value': new PyFloat(0.0),
    });
  }
  if (previous.length === 0) return undefined;
  let candidate = `${pyJsonDumps(previous, { indent: 2 })}\n`;
  if (node.observation !== '') candidate += `${DIVERSITY_FORMER_OBSERVATION}${node.observation}\n`;
  return { role: 'user', content: DIVERSITY_PROMPT.split('{previous_candidate}').join(candidate) };
}
