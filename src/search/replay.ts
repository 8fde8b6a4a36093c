/**
 * Re-executing a recorded answer file (`infer --backbone replay --env replay`): the `replay`
 * backbone answers each model call with the reply recorded at the same place in the tree, and the
 * replay environment answers each tool call with the recorded observation. The query, the function
 * list and the first two messages come from the file too, so nothing else is needed.
 *
 * A tree records each reply as nodes (formats.md §3.1, algorithms.md appendix): an optional
 * `Thought` (the text), then `Action` (the name) and `Action Input` (the arguments). In a DFS tree a
 * `Thought` that was itself expanded (`expand_num` > 0) was a reply of its own, without a call. The
 * exact message objects of the chosen path are in `train_messages`; they are reused, so the
 * rebuilt file has the same message shapes.
 *
 * Per-call token counts are not recorded: the first call reports the file's `total_tokens` and
 * the others 0, so the totals agree.
 */
import { basename } from 'node:path';
import { createAnswerReplayBackend } from '../env/replay-env.js';
import { shapeToolEnv } from '../env/observation.js';
import type { ApiRef, ToolEnv } from '../env/tool-call.js';
import type { Backbone, ChatMessage, Completion, CompletionRequest, MessageShape } from '../llm/backbone.js';
import { NO_USAGE } from '../llm/backbone.js';
import { AGENT_SYSTEM_PROMPT, FINISH_FUNCTION, FUNCTION_DESCRIPTION_TOOL } from '../protocol/prompts.js';
import { fromToolsShape, type OpenAIFunction } from '../registry/function-schema.js';
import { ToolbenchError, inputError } from '../util/errors.js';
import { readJsonFile } from '../util/json-file.js';
import { isPyObject, type PyObject, type PyValue } from '../util/py-value.js';
import { callsOf } from './step.js';
import { SEARCH_DEFAULTS, type SearchTask } from './types.js';

/** The agent system prompt up to its `{task_description}`: what precedes the task description. */
const SYSTEM_PROMPT_HEAD = AGENT_SYSTEM_PROMPT.slice(0, AGENT_SYSTEM_PROMPT.indexOf('{task_description}'));

export interface RecordedRun {
  readonly task: SearchTask;
  readonly backbone: Backbone;
  readonly env: ToolEnv;
  /** The method that wrote the file, from its `forward_args` (e.g. `DFS_woFilter_w2`, `CoT@1`). */
  readonly method: string;
  readonly maxDepth: number;
  readonly maxQueryCount: number;
}

interface RecordedNode {
  readonly record: PyObject;
  readonly children: RecordedNode[];
  /** A `Thought` that was a reply of its own (text without a call). */
  contentOnly: boolean;
}

export function openRecordedRun(file: string): RecordedRun {
  const answer = readJsonFile(file);
  if (!isPyObject(answer)) throw inputError(file, '$', 'an answer file (a JSON object)');
  const generation = answer.answer_generation;
  if (!isPyObject(generation)) throw inputError(file, '$.answer_generation', 'an object');
  const forward = isPyObject(answer.forward_args) ? answer.forward_args : {};
  const recordedFunctions = Array.isArray(generation.function) ? (generation.function as PyObject[]) : [];
  const conversations = Array.isArray(generation.train_messages) ? (generation.train_messages as ChatMessage[][]) : [];
  const lastConversation = conversations.at(-1) ?? [];
  const isDfs = isPyObject(answer.tree);
  const attempts = isDfs ? [recordedTree(file, (answer.tree as PyObject).tree)] : recordedChains(file, answer.trys, lastConversation);
  const shape = messageShape(recordedFunctions, conversations);
  const functions = fromToolsShape(recordedFunctions) as unknown as OpenAIFunction[];
  const systemMessage = lastConversation[0];
  const systemText = typeof systemMessage?.content === 'string' ? systemMessage.content : '';
  const task: SearchTask = {
    queryId: basename(file).split('_')[0] ?? basename(file),
    query: typeof generation.query === 'string' ? generation.query : '',
    functions,
    apis: functions.map(apiOfFunction),
    taskDescription: systemText.startsWith(SYSTEM_PROMPT_HEAD) ? systemText.slice(SYSTEM_PROMPT_HEAD.length) : '',
    ...(lastConversation.length >= 2 ? { rootMessages: lastConversation.slice(0, 2) } : {}),
    recordedFunctionList: recordedFunctions,
    recordedTrainMessages: conversations,
  };
  const method = isDfs
    ? `DFS_${forward.with_filter === true ? 'wFilter' : 'woFilter'}_w${String(forward.tree_beam_size ?? 2)}`
    : `CoT@${String(forward.pass_at ?? 1)}`;
  // the answer is read once: the environment replays its calls from the parsed object
  const env = shapeToolEnv(createAnswerReplayBackend(answer), { maxObservationLength: Number.MAX_SAFE_INTEGER, rateLimitPauseMs: 0, sleep: async () => {} });
  return {
    task,
    backbone: createReplayBackbone(file, attempts, isDfs, shape, conversations, Number(generation.total_tokens ?? 0)),
    env,
    method,
    maxDepth: typeof forward.single_chain_max_step === 'number' ? forward.single_chain_max_step : SEARCH_DEFAULTS.maxDepth,
    maxQueryCount: typeof forward.max_query_count === 'number' ? forward.max_query_count : SEARCH_DEFAULTS.maxQueryCount,
  };
}

function createReplayBackbone(
  file: string,
  attempts: readonly RecordedNode[],
  tree: boolean,
  shape: MessageShape,
  conversations: readonly ChatMessage[][],
  totalTokens: number,
): Backbone {
  const recordedMessages = indexAssistantMessages(conversations);
  let calls = 0;
  return {
    kind: 'replay',
    shape,
    describe: () => ({ backbone: 'replay', file: basename(file) }),
    async complete(request: CompletionRequest): Promise<Completion> {
      const tokens = calls++ === 0 ? totalTokens : 0;
      const usage = { promptTokens: 0, completionTokens: 0, totalTokens: tokens };
      if (request.purpose === 'rank') throw diverged(file, 'a ranking call (answer trees do not record ranking replies)');
      const position = request.position;
      if (position === undefined) throw diverged(file, 'a call without a position in the tree');
      let node = attempts[position.attempt];
      for (const index of position.path) node = node?.children[index];
      const where = `node ${position.attempt > 0 ? `of attempt ${position.attempt + 1} ` : ''}at path [${position.path.join(', ')}]`;
      if (node === undefined) throw diverged(file, `a call from ${where}, which the recording does not have`);
      const first = node.children[position.expansion];
      if (first === undefined) {
        throw diverged(
          file,
          `expansion ${position.expansion + 1} of the ${String(node.record.node_type)} ${where}; the recording has ${node.children.length}` +
            ' (trees from the 2023 ToolBench release may need --compat dfs-2023)',
        );
      }
      const reply = replyAt(first, tree);
      if (reply === undefined) throw diverged(file, `expansion ${position.expansion + 1} of ${where}: the recorded chain is not Thought/Action/Action Input`);
      if (reply.failed) return { ok: false, error: reply.content ?? '', usage: { ...NO_USAGE, totalTokens: tokens }, cost: 0 };
      return { ok: true, message: recordedMessages(reply, shape, calls), usage, cost: 0 };
    },
  };
}

interface RecordedCall {
  readonly name: string;
  readonly arguments: string;
}

interface RecordedReply {
  readonly content: string | undefined;
  readonly calls: readonly RecordedCall[];
  readonly failed: boolean;
}

/**
 * The reply that created the chain starting at `first`. In a DFS tree every reply's last node was
 * expanded (`expand_num` > 0), so an `Action Input` never expanded that has an `Action` below it
 * was followed by another call of the same reply (StableToolBench's parallel calls).
 */
function replyAt(first: RecordedNode, tree: boolean): RecordedReply | undefined {
  let node: RecordedNode | undefined = first;
  let content: string | undefined;
  if (node.record.node_type === 'Thought') {
    content = String(node.record.description ?? '');
    if (node.record.observation_code === -1) return { content, calls: [], failed: true };
    if (node.contentOnly || node.children.length === 0) return { content, calls: [], failed: false };
    node = node.children[0];
  }
  const calls: RecordedCall[] = [];
  for (;;) {
    if (node?.record.node_type !== 'Action') return undefined;
    const input: RecordedNode | undefined = node.children[0];
    if (input?.record.node_type !== 'Action Input') return undefined;
    calls.push({ name: String(node.record.description ?? ''), arguments: String(input.record.description ?? '') });
    const next = input.children[0];
    if (!tree || input.record.expand_num !== 0 || next?.record.node_type !== 'Action') break;
    node = next;
  }
  return { content, calls, failed: false };
}

type MessageFactory = (reply: RecordedReply, shape: MessageShape, callNumber: number) => ChatMessage;

/**
 * Reuses the recorded message object for a reply when `train_messages` has it (its exact shape).
 * A recorded message may show `invalid_hallucination_function_name` where the model wrote another
 * name, so a second index leaves names out; the names the model wrote are put back.
 */
function indexAssistantMessages(conversations: readonly ChatMessage[][]): MessageFactory {
  const exact = new Map<string, ChatMessage>();
  const withoutNames = new Map<string, ChatMessage>();
  for (const conversation of conversations) {
    for (const message of conversation) {
      if (message.role !== 'assistant') continue;
      exact.set(replyKey(message.content, callsOfMessage(message), true), message);
      withoutNames.set(replyKey(message.content, callsOfMessage(message), false), message);
    }
  }
  return (reply, shape, callNumber) => {
    const content = reply.content ?? null;
    const recorded = exact.get(replyKey(content, reply.calls, true)) ?? withoutNames.get(replyKey(content, reply.calls, false));
    if (recorded !== undefined) return withCallNames(structuredCopy(recorded), reply.calls);
    const message: ChatMessage = { role: 'assistant' };
    if (shape === 'functions') {
      message.content = content;
      const [call] = reply.calls;
      if (call !== undefined) message.function_call = { ...call };
    } else {
      if (reply.content !== undefined) message.content = reply.content;
      if (reply.calls.length > 0) {
        message.tool_calls = reply.calls.map((call, index) => ({ id: `replay_${callNumber}_${index}`, function: { ...call }, type: 'function' }));
      }
    }
    return message;
  };
}

function callsOfMessage(message: ChatMessage): RecordedCall[] {
  return callsOf(message).map(({ name, arguments: args }) => ({ name, arguments: args }));
}

function replyKey(content: PyValue | undefined, calls: readonly RecordedCall[], withNames: boolean): string {
  return JSON.stringify([typeof content === 'string' ? content : null, ...calls.map((call) => (withNames ? [call.name, call.arguments] : call.arguments))]);
}

function withCallNames(message: ChatMessage, calls: readonly RecordedCall[]): ChatMessage {
  const entries = Array.isArray(message.tool_calls) ? message.tool_calls.map((call) => (isPyObject(call) ? call.function : undefined)) : [message.function_call];
  entries.forEach((entry, index) => {
    const call = calls[index];
    if (isPyObject(entry) && call !== undefined) (entry as Record<string, PyValue>).name = call.name;
  });
  return message;
}

function structuredCopy(message: ChatMessage): ChatMessage {
  return JSON.parse(JSON.stringify(message)) as ChatMessage;
}

function recordedTree(file: string, value: PyValue | undefined): RecordedNode {
  if (!isPyObject(value)) throw inputError(file, '$.tree.tree', 'the root node of the search tree');
  const node: RecordedNode = { record: value, children: [], contentOnly: false };
  if (Array.isArray(value.children)) for (const child of value.children) node.children.push(recordedTree(file, child));
  node.contentOnly = value.node_type === 'Thought' && typeof value.expand_num === 'number' && value.expand_num > 0;
  return node;
}

/**
 * Each CoT attempt's flat chain as a tree under an empty root. Whether a `Thought` was a reply of
 * its own is not recorded in a chain; the answered attempt's messages tell, and elsewhere a
 * `Thought` followed by an `Action` is taken as one reply.
 */
function recordedChains(file: string, trys: PyValue | undefined, lastConversation: readonly ChatMessage[]): RecordedNode[] {
  if (!Array.isArray(trys)) throw inputError(file, '$', 'a DFS file (`tree`) or a CoT file (`trys`)');
  return trys.map((attempt, attemptIndex) => {
    const chain = isPyObject(attempt) && Array.isArray(attempt.chain) ? (attempt.chain as PyObject[]) : [];
    const root: RecordedNode = { record: { node_type: 'Action Input', description: '' }, children: [], contentOnly: false };
    const nodes: RecordedNode[] = [];
    let parent = root;
    for (const record of chain) {
      const node: RecordedNode = { record, children: [], contentOnly: false };
      parent.children.push(node);
      nodes.push(node);
      parent = node;
    }
    const last = chain.at(-1);
    const answered = last !== undefined && last.observation_code === 3 && last.pruned !== true;
    if (answered) markContentOnlyThoughts(nodes, lastConversation);
    if (chain.length === 0) throw inputError(file, `$.trys[${attemptIndex}].chain`, 'at least one node');
    return root;
  });
}

function markContentOnlyThoughts(nodes: readonly RecordedNode[], conversation: readonly ChatMessage[]): void {
  let index = 0;
  for (const message of conversation) {
    if (message.role !== 'assistant') continue;
    const calls = callsOfMessage(message);
    const node = nodes[index];
    if (typeof message.content === 'string' && node?.record.node_type === 'Thought') {
      if (calls.length === 0) node.contentOnly = true;
      index++;
    }
    index += 2 * calls.length;
  }
}

/** `tools` when the recording has StableToolBench messages (`tool_calls`, `role: tool`). */
function messageShape(functions: readonly PyObject[], conversations: readonly ChatMessage[][]): MessageShape {
  for (const conversation of conversations) {
    for (const message of conversation) {
      if (message.role === 'tool' || Array.isArray(message.tool_calls)) return 'tools';
      if (message.role === 'function' || isPyObject(message.function_call)) return 'functions';
    }
  }
  return functions.some((entry) => isPyObject(entry.function)) ? 'tools' : 'functions';
}

/**
 * The API behind a recorded function: the tool from `This is the subfunction for tool "<tool>"`,
 * the API name from the function name before `_for_<tool>`. The category is not recorded; the
 * replay environment finds calls by function name.
 */
const TOOL_NAME_IN_DESCRIPTION = new RegExp(escapeRegExp(FUNCTION_DESCRIPTION_TOOL).replace(escapeRegExp('{standard_tool_name}'), '([^"]*)'));

function apiOfFunction(fn: OpenAIFunction): ApiRef | undefined {
  if (fn.name === FINISH_FUNCTION.name) return undefined;
  const tool = TOOL_NAME_IN_DESCRIPTION.exec(fn.description)?.[1] ?? '';
  const suffix = `_for_${tool}`;
  const api = tool !== '' && fn.name.endsWith(suffix) ? fn.name.slice(0, -suffix.length) : fn.name;
  return { category: '', tool, api };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function diverged(file: string, what: string): ToolbenchError {
  return new ToolbenchError('replay.diverged', 1, `${file}: the search diverged from the recording: it asked for ${what}`);
}
