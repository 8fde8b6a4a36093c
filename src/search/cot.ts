/**
 * CoT@N (ReACT, algorithms.md §8): up to N independent chains, one model call per step, until a
 * chain ends with a final answer, gives up, fails, or reaches the depth limit.
 */
import { SearchNode } from './node.js';
import { applyCompletion, type SearchState } from './step.js';
import type { ChatMessage } from '../llm/backbone.js';

export interface CotAttempt {
  readonly end: SearchNode;
  /** The overall result before this attempt was recorded, as upstream writes `trys[*].win`. */
  readonly winBefore: boolean;
}

export interface CotOutcome {
  readonly attempts: CotAttempt[];
  readonly win: boolean;
  readonly budgetSpent: boolean;
}

export async function chainOfThought(state: SearchState, rootMessages: readonly ChatMessage[], passAt: number): Promise<CotOutcome> {
  const attempts: CotAttempt[] = [];
  let win = false;
  let budgetSpent = false;
  for (let attempt = 0; attempt < passAt && !win; attempt++) {
    if (state.budgetSpent) {
      budgetSpent = true;
      break;
    }
    state.startAttempt(attempt);
    let current = SearchNode.root(rootMessages);
    for (;;) {
      const completion = await state.callAgent(current);
      current = await applyCompletion(state, current, completion, false);
      if (current.depth >= state.options.maxDepth && !current.isTerminal) current.pruned = true;
      if (current.pruned || current.isTerminal) break;
      // Upstream has no call budget for CoT; the depth limit bounds it unless it is raised.
      if (state.budgetSpent) {
        budgetSpent = true;
        break;
      }
    }
    attempts.push({ end: current, winBefore: win });
    if (current.success) win = true;
  }
  return { attempts, win, budgetSpent };
}
