/**
 * Test doubles for the search engine: a backbone that answers from a script (recording every
 * request it receives, as sent and as a snapshot taken at call time) and a tool environment that
 * answers each function with canned observations.
 */
import assert from 'node:assert/strict';
import { TOOL_STATUS, type ToolStatus } from '../../src/env/status.js';
import type { ApiRef, ToolCallResult, ToolCallSource, ToolEnv } from '../../src/env/tool-call.js';
import type { Backbone, ChatMessage, Completion, CompletionRequest, MessageShape, SearchPosition } from '../../src/llm/backbone.js';
import { FINISH_FUNCTION } from '../../src/protocol/prompts.js';
import type { OpenAIFunction } from '../../src/registry/function-schema.js';
import { parseMethod } from '../../src/search/method.js';
import { runSearch } from '../../src/search/run-search.js';
import type { CompatFlag, SearchEvent, SearchOptions, SearchResult, SearchTask } from '../../src/search/types.js';
import { isPyObject, type PyObject, type PyValue } from '../../src/util/py-value.js';

// ---------------------------------------------------------------------------------------------
// Script steps

export interface Step {
  readonly purpose: 'agent' | 'rank';
  readonly message?: ChatMessage;
  readonly error?: string;
  readonly tokens?: number;
  readonly cost?: number;
}

/** ToolBench shape: `{role, content, function_call}` (content null unless given). */
export function call(name: string, args: string, content: string | null = null): Step {
  return { purpose: 'agent', message: { role: 'assistant', content, function_call: { name, arguments: args } } };
}

/** StableToolBench shape: one or more `tool_calls` (content left out when undefined, as the backbone drops nulls). */
export function toolCalls(content: string | undefined, ...calls: readonly (readonly [name: string, args: string, id: string])[]): Step {
  const message: ChatMessage = { role: 'assistant' };
  if (content !== undefined) message.content = content;
  message.tool_calls = calls.map(([name, args, id]) => ({ id, type: 'function', function: { name, arguments: args } }));
  return { purpose: 'agent', message };
}

/** A reply with text and no call. */
export function say(content: string): Step {
  return { purpose: 'agent', message: { role: 'assistant', content } };
}

/** Any assistant message as given. */
export function reply(message: ChatMessage): Step {
  return { purpose: 'agent', message };
}

/** A failed LLM call (every attempt failed). */
export function fail(error: string): Step {
  return { purpose: 'agent', error };
}

/** A ranking reply (DFS_wFilter). */
export function rank(content: string): Step {
  return { purpose: 'rank', message: { role: 'assistant', content } };
}

/** Finish arguments as gpt-3.5 writes them. */
export function answerArgs(answer: string): string {
  return `{\n  "return_type": "give_answer",\n  "final_answer": "${answer}"\n}`;
}

export function giveUpArgs(note = ''): string {
  return `{\n  "return_type": "give_up_and_restart"${note === '' ? '' : `,\n  "final_answer": "${note}"`}\n}`;
}

export function finish(answer: string, content: string | null = null): Step {
  return call('Finish', answerArgs(answer), content);
}

export function giveUp(note = '', content: string | null = null): Step {
  return call('Finish', giveUpArgs(note), content);
}

// ---------------------------------------------------------------------------------------------
// Backbone

export interface RecordedRequest {
  readonly purpose: 'agent' | 'rank';
  /** Deep copy taken when the call was made. */
  readonly snapshot: ChatMessage[];
  /** The array as passed (message objects by reference: later mutations show here). */
  readonly live: readonly ChatMessage[];
  readonly functions: readonly OpenAIFunction[];
  readonly position: SearchPosition | undefined;
}

export const DEFAULT_TOKENS = 7;
export const DEFAULT_COST = 0.25;

export class ScriptedBackbone implements Backbone {
  readonly kind = 'scripted';
  readonly requests: RecordedRequest[] = [];
  private next = 0;

  constructor(
    private readonly script: readonly Step[],
    readonly shape: MessageShape = 'functions',
  ) {}

  describe(): { readonly [key: string]: PyValue } {
    return { backbone: 'scripted', shape: this.shape };
  }

  get remaining(): number {
    return this.script.length - this.next;
  }

  /** The agent requests only. */
  get agentRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.purpose === 'agent');
  }

  async complete(request: CompletionRequest): Promise<Completion> {
    const index = this.next++;
    const step = this.script[index];
    this.requests.push({
      purpose: request.purpose,
      snapshot: structuredClone(request.messages) as ChatMessage[],
      live: request.messages,
      functions: request.functions,
      position: request.position === undefined ? undefined : { ...request.position, path: [...request.position.path] },
    });
    if (step === undefined) throw new Error(`scripted backbone: call ${index + 1} (${request.purpose}) is beyond the script (${this.script.length} steps)`);
    if (step.purpose !== request.purpose) throw new Error(`scripted backbone: call ${index + 1} is a ${request.purpose} call, the script has a ${step.purpose} step`);
    const usage = { promptTokens: 0, completionTokens: 0, totalTokens: step.tokens ?? DEFAULT_TOKENS };
    const cost = step.cost ?? DEFAULT_COST;
    if (step.error !== undefined) return { ok: false, error: step.error, usage, cost };
    assert.ok(step.message !== undefined);
    // the script's own object: tests can check the engine does not change it
    return { ok: true, message: step.message, usage, cost };
  }
}

// ---------------------------------------------------------------------------------------------
// Tool environment

export interface Canned {
  readonly observation: string;
  readonly status?: ToolStatus;
  readonly source?: ToolCallSource;
}

export interface EnvCall {
  readonly api: ApiRef;
  readonly args: string;
}

/**
 * Answers by API name: a canned answer (or a list, one per call, the last repeating); an API
 * without one answers `{"error": "", "response": "<api>#<n>"}` (n counts calls to that API).
 */
export class FakeEnv implements ToolEnv {
  readonly calls: EnvCall[] = [];
  private readonly counts = new Map<string, number>();

  constructor(private readonly canned: { readonly [api: string]: Canned | readonly Canned[] } = {}) {}

  async call(api: ApiRef, args: string): Promise<ToolCallResult> {
    this.calls.push({ api, args });
    const n = (this.counts.get(api.api) ?? 0) + 1;
    this.counts.set(api.api, n);
    const entry = this.canned[api.api];
    const answer = Array.isArray(entry) ? entry[Math.min(n, entry.length) - 1] : (entry as Canned | undefined);
    if (answer === undefined) return { observation: observationFor(api.api, n), status: TOOL_STATUS.ok, source: 'local' };
    return { observation: answer.observation, status: answer.status ?? TOOL_STATUS.ok, source: answer.source ?? 'local' };
  }

  async close(): Promise<void> {}
}

/** The default observation of the n-th call to an API (pyjson of a server reply). */
export function observationFor(api: string, n: number): string {
  return `{"error": "", "response": "${api}#${n}"}`;
}

// ---------------------------------------------------------------------------------------------
// Task and search

export const TOOL = 'test_tool';
export const TASK_DESCRIPTION = 'You should use functions to help handle the real time user querys.\n1.test_tool: A tool for tests.\n';
export const QUERY = 'What is the answer?';

/** `<api>_for_test_tool` schemas (in the upstream shape), then Finish; apis aligned. */
export function makeTask(apiNames: readonly string[] = ['alpha', 'beta', 'gamma'], extra: Partial<SearchTask> = {}): SearchTask {
  const functions: OpenAIFunction[] = apiNames.map((api) => ({
    name: `${api}_for_${TOOL}`,
    description: `This is the subfunction for tool "${TOOL}", you can use this tool.The description of this function is: "${api} things"`,
    parameters: { type: 'object', properties: {}, required: [], optional: [] },
  }));
  functions.push(FINISH_FUNCTION);
  const apis: (ApiRef | undefined)[] = apiNames.map((api) => ({ category: 'Testing', tool: TOOL, api }));
  apis.push(undefined);
  return { queryId: '42', query: QUERY, functions, apis, taskDescription: TASK_DESCRIPTION, ...extra };
}

export function fn(api: string): string {
  return `${api}_for_${TOOL}`;
}

export interface Run {
  readonly result: SearchResult;
  readonly answer: PyObject;
  readonly generation: PyObject;
  readonly backbone: ScriptedBackbone;
  readonly env: FakeEnv;
  readonly events: SearchEvent[];
  readonly task: SearchTask;
}

export interface RunOptions {
  readonly shape?: MessageShape;
  readonly env?: FakeEnv;
  readonly task?: SearchTask;
  readonly maxDepth?: number;
  readonly maxQueryCount?: number;
  readonly seed?: number;
  readonly compat?: readonly CompatFlag[];
}

export async function search(method: string, script: readonly Step[], options: RunOptions = {}): Promise<Run> {
  const backbone = new ScriptedBackbone(script, options.shape ?? 'functions');
  const env = options.env ?? new FakeEnv();
  const task = options.task ?? makeTask();
  const events: SearchEvent[] = [];
  const searchOptions: SearchOptions = {
    method: parseMethod(method),
    backbone,
    env,
    maxDepth: options.maxDepth ?? 12,
    maxQueryCount: options.maxQueryCount ?? 200,
    seed: options.seed ?? 0,
    ...(options.compat === undefined ? {} : { compat: new Set(options.compat) }),
    onEvent: (event) => events.push(event),
  };
  const result = await runSearch(task, searchOptions);
  const answer = result.answer;
  const generation = answer.answer_generation;
  assert.ok(isPyObject(generation), 'answer_generation is an object');
  return { result, answer, generation, backbone, env, events, task };
}

// ---------------------------------------------------------------------------------------------
// Reading answers

export interface FlatNode {
  readonly record: PyObject;
  /** Child indices from the root. */
  readonly path: readonly number[];
}

/** The tree dump in preorder (the root first). */
export function preorder(answer: PyObject): FlatNode[] {
  const tree = answer.tree;
  assert.ok(isPyObject(tree) && isPyObject(tree.tree), 'a DFS answer has tree.tree');
  const nodes: FlatNode[] = [];
  const visit = (record: PyObject, path: number[]): void => {
    nodes.push({ record, path });
    const children = Array.isArray(record.children) ? record.children : [];
    children.forEach((child, index) => {
      assert.ok(isPyObject(child));
      visit(child, [...path, index]);
    });
  };
  visit(tree.tree, []);
  return nodes;
}

/** One line per node: `<depth> <type> <description> e<expand_num>[ pruned][ finished][ code=<n>]`. */
export function outline(answer: PyObject): string[] {
  return preorder(answer).map(({ record }) => describeRecord(record));
}

export function describeRecord(record: PyObject): string {
  const flags = [
    record.pruned === true ? ' pruned' : '',
    record.finished === true ? ' finished' : '',
    record.observation_code === undefined ? '' : ` code=${String(record.observation_code)}`,
  ].join('');
  return `${String(record.depth)} ${String(record.node_type)} ${String(record.description)} e${String(record.expand_num)}${flags}`;
}

/** The record at a path of child indices. */
export function nodeAt(answer: PyObject, path: readonly number[]): PyObject {
  const found = preorder(answer).find((node) => node.path.length === path.length && node.path.every((index, i) => index === path[i]));
  assert.ok(found !== undefined, `no node at [${path.join(', ')}]`);
  return found.record;
}

/** The messages of each train_messages conversation, as `role` or `role:name`. */
export function trainRoles(generation: PyObject): string[][] {
  const conversations = generation.train_messages;
  assert.ok(Array.isArray(conversations), 'train_messages is a list');
  return conversations.map((conversation) => {
    assert.ok(Array.isArray(conversation));
    return conversation.map((message) => {
      assert.ok(isPyObject(message));
      const invalid = message.valid === false ? '(invalid)' : '';
      const call = isPyObject(message.function_call) ? `:${String(message.function_call.name)}` : '';
      return `${String(message.role)}${call}${invalid}`;
    });
  });
}

export function asObject(value: PyValue | undefined, what = 'value'): PyObject {
  assert.ok(isPyObject(value), `${what} is an object`);
  return value;
}

export function asArray(value: PyValue | undefined, what = 'value'): readonly PyValue[] {
  assert.ok(Array.isArray(value), `${what} is a list`);
  return value;
}
