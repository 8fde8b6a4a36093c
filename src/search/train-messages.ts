/**
 * `train_messages` (algorithms.md §11): one conversation per assistant reply on the path to the
 * chosen node, each ending with that reply; the last one is the whole trajectory.
 */
import type { ChatMessage } from '../llm/backbone.js';
import type { SearchNode } from './node.js';

export function trainMessages(chosen: SearchNode): ChatMessage[][] {
  const conversations: ChatMessage[][] = [];
  for (let node: SearchNode | undefined = chosen; node?.parent !== undefined; node = node.parent) {
    if (node.type === 'Action') continue;
    const messages = node.messages.toArray();
    if (node.type === 'Action Input') {
      while (messages.length > 0 && messages.at(-1)?.role !== 'assistant') messages.pop();
      conversations.unshift(keepLastInvalid(messages));
    } else {
      while (messages.length > 0 && messages.at(-1)?.role === 'user') messages.pop();
      const kept = keepLastInvalid(messages);
      if (kept.at(-1)?.role === 'assistant') conversations.unshift(kept);
    }
  }
  return conversations;
}

/** Keeps every valid message and only the latest one marked `valid: false`. */
function keepLastInvalid(messages: readonly ChatMessage[]): ChatMessage[] {
  const kept: ChatMessage[] = [];
  let invalidSeen = false;
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index] as ChatMessage;
    if (message.valid === false) {
      if (invalidSeen) continue;
      invalidSeen = true;
    }
    kept.push(message);
  }
  return kept.reverse();
}
