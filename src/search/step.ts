/**
 * One model step (algorithms.md §7, §10): a call to the backbone from a node, and the chain of
 * nodes its reply creates below that node: an optional `Thought` (the text), then for each call
 * an `Action` (the name) and an `Action Input` (the arguments, run in the environment).
 */
import type { AssistantCall, ChatMessage, Completion, CompletionRequest } from '../llm/backbone.js';
import { TOOL_STATUS } from '../env/status.js';
import { HALLUCINATED_FUNCTION_NAME } from '../protocol/prompts.js';
import { isPyObject, type PyValue } from '../util/py-value.js';
import { agentStep } from './agent-step.js';
import { makeFinish, SearchNode } from './node.js';
import type { SearchEvent, SearchOptions, SearchTask } from './types.js';

/** Counters and the event stream of one search. */
export class SearchState {
  queryCount = 0;
  totalTokens = 0;
  cost = 0;
  private attempt = 0;

  constructor(
    readonly task: SearchTask,
    readonly options: SearchOptions,
  ) {}

  startAttempt(attempt: number): void {
    this.attempt = attempt;
  }

  emit(event: SearchEvent): void {
    this.options.onEvent?.(event);
  }

  /** One agent call from `node`, counted. */
  async callAgent(node: SearchNode): Promise<Completion> {
    const position = { attempt: this.attempt, path: node.path(), expansion: node.children.length };
    return this.call({ messages: node.messages.toArray(), functions: this.task.functions, purpose: 'agent', position }, node.depth);
  }

  async call(request: Omit<CompletionRequest, 'signal'>, depth: number): Promise<Completion> {
    this.options.signal?.throwIfAborted();
    this.emit({ type: 'llm_start', purpose: request.purpose, depth, messages: request.messages });
    const completion = await this.options.backbone.complete({ ...request, signal: this.options.signal });
    this.queryCount++;
    this.totalTokens += completion.usage.totalTokens;
    this.cost += completion.cost;
    this.emit({
      type: 'llm',
      purpose: request.purpose,
      depth,
      ok: completion.ok,
      usage: completion.usage,
      cost: completion.cost,
      ...(completion.ok ? { message: completion.message } : { error: completion.error }),
    });
    return completion;
  }

  get budgetSpent(): boolean {
    return this.queryCount >= this.options.maxQueryCount;
  }
}

/**
 * Creates the nodes of one reply below `frame` and returns the last one, which holds the reply
 * (and the call results) in its messages. `markFinished` applies DFS's make_finish(2) to a final answer.
 */
export async function applyCompletion(state: SearchState, frame: SearchNode, completion: Completion, markFinished: boolean): Promise<SearchNode> {
  if (!completion.ok) {
    const thought = frame.child('Thought', completion.error);
    thought.pruned = true;
    thought.observationCode = -1;
    thought.messages = thought.messages.append({ role: 'assistant', content: completion.error });
    return thought;
  }
  const reply = copyMessage(completion.message);
  const calls = callsOf(reply);
  let current = frame;
  // A reply with neither text nor a call counts as empty text: upstream would re-enter the same
  // node and start its width loop again (algorithms.md quirk 18).
  if (typeof reply.content === 'string' || calls.length === 0) {
    current = current.child('Thought', typeof reply.content === 'string' ? reply.content : '');
  }
  if (calls.length === 0) {
    // an assistant message with neither text nor calls is refused by chat APIs on the next request
    if (typeof reply.content !== 'string') reply.content = '';
    current.messages = current.messages.append(reply);
    return current;
  }
  const shape = state.options.backbone.shape;
  for (const [index, call] of calls.entries()) {
    const input = current.child('Action', call.name).child('Action Input', call.arguments);
    state.emit({ type: 'tool_start', depth: frame.depth, name: call.name, arguments: call.arguments });
    const outcome = await agentStep(state.task, state.options.env, call.name, call.arguments, state.options.signal);
    input.observation = outcome.observation;
    input.observationCode = outcome.status;
    state.emit({ type: 'tool', depth: frame.depth, name: call.name, arguments: call.arguments, observation: outcome.observation, status: outcome.status, source: outcome.source });
    if (outcome.status === TOOL_STATUS.giveUp) input.pruned = true;
    if (outcome.status === TOOL_STATUS.finalAnswer) {
      input.success = true;
      if (markFinished) makeFinish(input, 2);
    }
    // The reply object is shared by every message list that holds it, so a rename of a later
    // parallel call shows in the stored assistant message too (upstream DFS's copy keeps the
    // model's name there: quirk 28).
    const name = outcome.status === TOOL_STATUS.noSuchFunction ? HALLUCINATED_FUNCTION_NAME : call.name;
    if (name !== call.name) renameCall(reply, index, name);
    if (shape === 'functions') {
      input.messages = input.messages.append(reply).append({ role: 'function', name, content: outcome.observation });
    } else {
      if (index === 0) input.messages = input.messages.append(reply);
      input.messages = input.messages.append({ role: 'tool', name, content: outcome.observation, tool_call_id: call.id ?? '' });
    }
    current = input;
  }
  return current;
}

/** The calls of an assistant message: `function_call`, or every `tool_calls` entry. */
export function callsOf(message: ChatMessage): AssistantCall[] {
  const toolCalls = message.tool_calls;
  if (Array.isArray(toolCalls) && toolCalls.length > 0) {
    return toolCalls.map((entry) => {
      const call = entry as { id?: PyValue; function?: { name?: PyValue; arguments?: PyValue } };
      return {
        id: typeof call.id === 'string' || typeof call.id === 'number' ? String(call.id) : undefined,
        name: String(call.function?.name ?? ''),
        arguments: String(call.function?.arguments ?? ''),
      };
    });
  }
  const functionCall = message.function_call as { name?: PyValue; arguments?: PyValue } | null | undefined;
  if (functionCall !== null && typeof functionCall === 'object') {
    return [{ name: String(functionCall.name ?? ''), arguments: String(functionCall.arguments ?? '') }];
  }
  return [];
}

/** A copy deep enough to rename a call without touching the backbone's object. */
function copyMessage(message: ChatMessage): ChatMessage {
  const copy: ChatMessage = { ...message };
  if (isPyObject(message.function_call)) copy.function_call = { ...message.function_call };
  if (Array.isArray(message.tool_calls)) {
    copy.tool_calls = message.tool_calls.map((call) =>
      isPyObject(call) && isPyObject(call.function) ? { ...call, function: { ...call.function } } : call,
    );
  }
  return copy;
}

function renameCall(message: ChatMessage, index: number, name: string): void {
  const toolCalls = message.tool_calls;
  if (Array.isArray(toolCalls) && toolCalls.length > 0) {
    const call = toolCalls[index];
    if (isPyObject(call) && isPyObject(call.function)) (call.function as { name: PyValue }).name = name;
  } else if (isPyObject(message.function_call)) {
    (message.function_call as { name: PyValue }).name = name;
  }
}

