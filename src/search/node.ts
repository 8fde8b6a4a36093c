/**
 * The search tree (algorithms.md §7). A node is one part of a model step: an optional `Thought`
 * (the message text), an `Action` (the function name as the model wrote it) and an `Action Input`
 * (the arguments, with the environment's observation and status). The root is an `Action Input`
 * with an empty description.
 */
import type { ChatMessage } from '../llm/backbone.js';
import { MessageList } from './message-list.js';
import type { NodeType } from './types.js';

export class SearchNode {
  readonly children: SearchNode[] = [];
  readonly depth: number;
  observation = '';
  /** Tool status of an `Action Input`, or -1 on a `Thought` made from a failed LLM call. */
  observationCode: number | undefined;
  pruned = false;
  finished = false;
  /** Visit stamp of the DFS frame that expanded this node (0 if never expanded). */
  expandNum = 0;
  /**
   * Upstream's environment success flag (io_state): set by a `give_answer` Finish and inherited
   * by everything created below it. A node is terminal when it is set.
   */
  success: boolean;
  messages: MessageList;

  constructor(
    readonly type: NodeType,
    readonly description: string,
    readonly parent: SearchNode | undefined,
    messages: MessageList,
  ) {
    this.depth = parent === undefined ? 0 : parent.depth + 1;
    this.success = parent?.success ?? false;
    this.messages = messages;
    parent?.children.push(this);
  }

  static root(messages: readonly ChatMessage[]): SearchNode {
    return new SearchNode('Action Input', '', undefined, MessageList.of(messages));
  }

  /** A child that starts from this node's conversation. */
  child(type: NodeType, description: string): SearchNode {
    return new SearchNode(type, description, this, this.messages);
  }

  get isTerminal(): boolean {
    return this.success;
  }

  /** Child indices from the root down to this node. */
  path(): number[] {
    const path: number[] = [];
    for (let node: SearchNode = this; node.parent !== undefined; node = node.parent) path.push(node.parent.children.indexOf(node));
    return path.reverse();
  }

  /** From the node below the root down to this one. */
  pathFromRoot(): SearchNode[] {
    const nodes: SearchNode[] = [];
    for (let node: SearchNode | undefined = this; node?.parent !== undefined; node = node.parent) nodes.push(node);
    return nodes.reverse();
  }
}

/**
 * `make_finish(k)` (algorithms.md §9.5): marks the node and its ancestors finished, up to and
 * including the (k+1)-th `Action Input` on the way up. Bookkeeping only: the `finished` flag.
 */
export function makeFinish(start: SearchNode, k: number): void {
  let budget = k;
  for (let node: SearchNode | undefined = start; node !== undefined; node = node.parent) {
    node.finished = true;
    if (node.type === 'Action Input') budget--;
    if (budget < 0) return;
  }
}
