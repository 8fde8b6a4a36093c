/**
 * Node records as the answer file writes them (formats.md §3.1): the nested tree dump and the
 * flat records of a path. `is_terminal` is always written `false`, as upstream does (quirk 21):
 * readers of the released files expect that, and the real flag follows from `observation_code` 3.
 */
import { PyFloat, type PyObject } from '../util/py-value.js';
import type { SearchNode } from './node.js';

const ELO = new PyFloat(1000.0);

export function nodeRecord(node: SearchNode, withChildren: boolean): PyObject {
  const record: Record<string, unknown> = {
    is_terminal: false,
    pruned: node.pruned,
    finished: node.finished,
    depth: node.depth,
    node_type: node.type,
    description: node.description,
    Elo: ELO,
  };
  if (node.observation !== '') record.observation = node.observation;
  if (node.observationCode !== undefined) record.observation_code = node.observationCode;
  record.child_count = node.children.length;
  record.expand_num = node.expandNum;
  if (node.type === 'Action Input') record.io_state = {};
  if (withChildren) record.children = node.children.map((child) => nodeRecord(child, true));
  return record as PyObject;
}

/** Flat records from depth 1 down to `node`. */
export function pathRecords(node: SearchNode): PyObject[] {
  return node.pathFromRoot().map((step) => nodeRecord(step, false));
}

/** `tree.size` (nodes including the root) and `tree.max_length` (height in nodes). */
export function treeSize(root: SearchNode): { size: number; maxLength: number } {
  let size = 0;
  let maxLength = 0;
  const stack: SearchNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as SearchNode;
    size++;
    maxLength = Math.max(maxLength, node.depth + 1);
    stack.push(...node.children);
  }
  return { size, maxLength };
}
