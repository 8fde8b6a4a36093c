/**
 * LLM pairwise ranking of sibling candidates for DFS_wFilter (algorithms.md §9.7).
 */
import { RANK_SYSTEM_PROMPT, RANK_USER_PROMPT } from '../protocol/prompts.js';
import { pyHead, pyLength, pyReplace, pyStrip } from '../util/py-string.js';
import type { SearchNode } from './node.js';
import type { SearchState } from './step.js';

/** Scores by `sum_based_rankn`: +1 per won pair, +0.5 each on a tie; two calls per pair. */
export async function rankCandidates(state: SearchState, candidates: readonly SearchNode[]): Promise<number[]> {
  const scores = candidates.map(() => 0);
  for (let i = 0; i < candidates.length; i++) {
    for (let j = i + 1; j < candidates.length; j++) {
      const first = await prefersFirst(state, candidates[i] as SearchNode, candidates[j] as SearchNode);
      const second = await prefersFirst(state, candidates[j] as SearchNode, candidates[i] as SearchNode);
      const votesI = (first ? 1 : 0) + (second ? 0 : 1);
      const votesJ = 2 - votesI;
      if (votesI > votesJ) scores[i]! += 1;
      else if (votesJ > votesI) scores[j]! += 1;
      else {
        scores[i]! += 0.5;
        scores[j]! += 0.5;
      }
    }
  }
  return scores;
}

/** `rank2_subfix`: asks whether candidate A is better than B; the last character of the reply decides. */
async function prefersFirst(state: SearchState, a: SearchNode, b: SearchNode): Promise<boolean> {
  const ancestor = commonAncestor(a, b);
  const system = replaceAll(RANK_SYSTEM_PROMPT, [
    ['{task_description}', state.task.taskDescription],
    ['{intersect_trice}', trace(ancestor.pathFromRoot())],
    ['{candidate_A}', trace(below(ancestor, a))],
    ['{candidate_B}', trace(below(ancestor, b))],
  ]);
  const completion = await state.call(
    {
      messages: [
        { role: 'system', content: system },
        { role: 'user', content: RANK_USER_PROMPT },
      ],
      functions: state.task.functions,
      purpose: 'rank',
    },
    ancestor.depth,
  );
  if (!completion.ok || typeof completion.message.content !== 'string') return false;
  return pyStrip(completion.message.content).toLowerCase().endsWith('a');
}

const OBSERVATION_LIMIT = 1024;

/** The numbered steps of a path: each node's type and text, and its observation as a step of its own. */
export function trace(nodes: readonly SearchNode[]): string {
  const entries: string[] = [];
  for (const node of nodes) {
    entries.push(`${node.type}: ${node.description}\n`);
    if (node.observation !== '') {
      const length = pyLength(node.observation);
      const shown = length > OBSERVATION_LIMIT ? `${pyHead(node.observation, OBSERVATION_LIMIT)}...(len=${length})` : node.observation;
      entries.push(`Observation: ${shown}\n`);
    }
  }
  if (entries.length === 0) return 'None';
  return entries.map((entry, index) => `step_${index + 1}: ${entry}\n`).join('');
}

function commonAncestor(a: SearchNode, b: SearchNode): SearchNode {
  const ancestors = new Set<SearchNode>();
  for (let node: SearchNode | undefined = a; node !== undefined; node = node.parent) ancestors.add(node);
  for (let node: SearchNode | undefined = b; node !== undefined; node = node.parent) if (ancestors.has(node)) return node;
  throw new Error('candidates of one search share the root');
}

function below(ancestor: SearchNode, node: SearchNode): SearchNode[] {
  const nodes: SearchNode[] = [];
  for (let current: SearchNode | undefined = node; current !== undefined && current !== ancestor; current = current.parent) nodes.push(current);
  return nodes.reverse();
}

/** Python's chained `str.replace`. */
function replaceAll(template: string, pairs: readonly (readonly [string, string])[]): string {
  return pairs.reduce((text, [placeholder, value]) => pyReplace(text, placeholder, value), template);
}
