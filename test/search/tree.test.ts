/**
 * The tree model on its own (algorithms.md §7, §9.5, §11; formats.md §3.1): train_messages
 * extraction, make_finish, node records, tree size.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChatMessage } from '../../src/llm/backbone.js';
import { MessageList } from '../../src/search/message-list.js';
import { makeFinish, SearchNode } from '../../src/search/node.js';
import { trainMessages } from '../../src/search/train-messages.js';
import { nodeRecord, pathRecords, treeSize } from '../../src/search/tree-json.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';

const system: ChatMessage = { role: 'system', content: 'sys' };
const user: ChatMessage = { role: 'user', content: 'query' };

function assistant(name: string | null, content: string | null = null): ChatMessage {
  return name === null ? { role: 'assistant', content } : { role: 'assistant', content, function_call: { name, arguments: '{}' } };
}

function result(name: string): ChatMessage {
  return { role: 'function', name, content: `${name} result` };
}

function invalid(text: string): ChatMessage {
  return { role: 'user', content: text, valid: false };
}

/** One reply with a call below `from`: Action + Action Input holding [reply, result]. */
function step(from: SearchNode, name: string, content: string | null = null): SearchNode {
  let current = from;
  if (content !== null) current = current.child('Thought', content);
  const input = current.child('Action', name).child('Action Input', '{}');
  input.messages = input.messages.append(assistant(name, content)).append(result(name));
  return input;
}

const label = (message: ChatMessage): string => `${message.role}${message.valid === false ? '(invalid)' : ''}:${String(message.content)}`;

describe('trainMessages (§11)', () => {
  test('one conversation per reply, each ending with it; Action nodes skipped', () => {
    const root = SearchNode.root([system, user]);
    const first = step(root, 'f');
    const second = step(first, 'g', 'thinking');
    const conversations = trainMessages(second);
    assert.deepEqual(
      conversations.map((conversation) => conversation.map(label)),
      [
        ['system:sys', 'user:query', 'assistant:null'],
        ['system:sys', 'user:query', 'assistant:null', 'function:f result', 'assistant:thinking'],
      ],
      'the Thought of a reply with a call ends with a function message: not a conversation of its own',
    );
  });

  test('keep-last-invalid: only the latest invalid message survives, with its marker', () => {
    const root = SearchNode.root([system, user]);
    root.messages = root.messages.append(invalid('first diversity')).append(invalid('second diversity'));
    const input = step(root, 'f');
    const [conversation] = trainMessages(input);
    assert.deepEqual(conversation?.map(label), ['system:sys', 'user:query', 'user(invalid):second diversity', 'assistant:null']);
    assert.deepEqual(Object.keys(conversation?.[2] ?? {}), ['role', 'content', 'valid']);
  });

  test('a text-only Thought is a conversation; trailing user messages (a later diversity prompt) are dropped from it', () => {
    const root = SearchNode.root([system, user]);
    const thought = root.child('Thought', 'pondering');
    thought.messages = thought.messages.append(assistant(null, 'pondering'));
    // the Thought was expanded twice: the second expansion appended a diversity prompt
    thought.messages = thought.messages.append(invalid('try something else'));
    const input = step(thought, 'f');
    assert.deepEqual(
      trainMessages(input).map((conversation) => conversation.map(label)),
      [
        ['system:sys', 'user:query', 'assistant:pondering'],
        ['system:sys', 'user:query', 'assistant:pondering', 'user(invalid):try something else', 'assistant:null'],
      ],
    );
  });

  test('the message objects are shared, the lists are new', () => {
    const root = SearchNode.root([system, user]);
    const input = step(root, 'f');
    const [conversation] = trainMessages(input);
    assert.equal(conversation?.[0], system);
    conversation?.pop();
    assert.equal(input.messages.length, 4, 'the node keeps its messages');
  });
});

describe('makeFinish (§9.5)', () => {
  function chain(): SearchNode[] {
    const root = SearchNode.root([]);
    const nodes = [root];
    let current = root;
    for (const type of ['Thought', 'Action', 'Action Input', 'Action', 'Action Input', 'Thought', 'Action', 'Action Input', 'Action', 'Action Input'] as const) {
      current = current.child(type, type);
      nodes.push(current);
    }
    return nodes;
  }
  const finishedTypes = (nodes: SearchNode[]): string[] => nodes.map((node) => `${node.depth}${node.finished ? '+' : '-'}`);

  test('k=2 from an Action Input: itself and ancestors up to the third Action Input', () => {
    const nodes = chain();
    makeFinish(nodes.at(-1) as SearchNode, 2);
    assert.deepEqual(finishedTypes(nodes), ['0-', '1-', '2-', '3-', '4-', '5+', '6+', '7+', '8+', '9+', '10+']);
  });

  test('k=0 marks only the starting Action Input; from a Thought, k counts only Action Inputs', () => {
    const nodes = chain();
    makeFinish(nodes.at(-1) as SearchNode, 0);
    assert.deepEqual(finishedTypes(nodes).filter((entry) => entry.endsWith('+')), ['10+']);
    const others = chain();
    makeFinish(others[6] as SearchNode, 2); // a Thought at depth 6
    assert.deepEqual(finishedTypes(others), ['0+', '1+', '2+', '3+', '4+', '5+', '6+', '7-', '8-', '9-', '10-']);
  });
});

describe('node records (formats.md §3.1)', () => {
  test('key order and optional keys', () => {
    const root = SearchNode.root([]);
    const action = root.child('Action', 'f');
    const input = action.child('Action Input', '{"a": 1}');
    input.observation = '{"error": "", "response": "ok"}';
    input.observationCode = 0;
    input.expandNum = 4;
    const empty = action.child('Action Input', '{}');
    empty.observationCode = 0; // an empty observation is left out, the code is not
    assert.deepEqual(Object.keys(nodeRecord(root, true)), ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'child_count', 'expand_num', 'io_state', 'children']);
    assert.deepEqual(Object.keys(nodeRecord(action, false)), ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'child_count', 'expand_num']);
    assert.deepEqual(Object.keys(nodeRecord(input, false)), ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'observation', 'observation_code', 'child_count', 'expand_num', 'io_state']);
    assert.deepEqual(Object.keys(nodeRecord(empty, false)), ['is_terminal', 'pruned', 'finished', 'depth', 'node_type', 'description', 'Elo', 'observation_code', 'child_count', 'expand_num', 'io_state']);
    assert.equal(
      pyJsonDumps(nodeRecord(input, false)),
      '{"is_terminal": false, "pruned": false, "finished": false, "depth": 2, "node_type": "Action Input", "description": "{\\"a\\": 1}", "Elo": 1000.0, "observation": "{\\"error\\": \\"\\", \\"response\\": \\"ok\\"}", "observation_code": 0, "child_count": 0, "expand_num": 4, "io_state": {}}',
    );
  });

  test('is_terminal is always written false (quirk 21)', () => {
    const root = SearchNode.root([]);
    const input = root.child('Action', 'Finish').child('Action Input', '{}');
    input.success = true;
    assert.equal(input.isTerminal, true);
    assert.equal(nodeRecord(input, false).is_terminal, false);
  });

  test('pathRecords from depth 1; treeSize counts nodes and height in nodes', () => {
    const root = SearchNode.root([]);
    assert.deepEqual(treeSize(root), { size: 1, maxLength: 1 });
    const a = root.child('Action', 'f');
    const b = a.child('Action Input', '{}');
    root.child('Thought', 'other');
    assert.deepEqual(
      pathRecords(b).map((record) => record.depth),
      [1, 2],
    );
    assert.deepEqual(treeSize(root), { size: 4, maxLength: 3 });
  });

  test('children inherit the success flag and the parent conversation', () => {
    const root = SearchNode.root([system, user]);
    const input = root.child('Action', 'Finish').child('Action Input', '{}');
    input.success = true;
    const later = input.child('Action', 'f');
    assert.equal(later.isTerminal, true);
    assert.deepEqual(later.messages.toArray(), [system, user]);
    assert.deepEqual(later.path(), [0, 0, 0]);
    assert.deepEqual(MessageList.of([system]).append(user).toArray(), [system, user]);
  });
});
