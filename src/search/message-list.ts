/**
 * A node's conversation as a persistent list: appending makes a new list that shares every
 * earlier message with the old one. Upstream deep-copies the whole list into every node
 * (algorithms.md §7); sharing keeps a 200-node tree's memory proportional to its size.
 */
import type { ChatMessage } from '../llm/backbone.js';

export class MessageList {
  static readonly EMPTY = new MessageList(undefined, undefined, 0);

  private constructor(
    readonly last: ChatMessage | undefined,
    private readonly previous: MessageList | undefined,
    readonly length: number,
  ) {}

  static of(messages: readonly ChatMessage[]): MessageList {
    return messages.reduce((list, message) => list.append(message), MessageList.EMPTY);
  }

  append(message: ChatMessage): MessageList {
    return new MessageList(message, this, this.length + 1);
  }

  toArray(): ChatMessage[] {
    const messages = new Array<ChatMessage>(this.length);
    let index = this.length;
    for (let list: MessageList | undefined = this; list !== undefined && list.last !== undefined; list = list.previous) {
      messages[--index] = list.last;
    }
    return messages;
  }
}
