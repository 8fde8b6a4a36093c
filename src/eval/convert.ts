/**
 * One raw answer file to one ToolEval converted entry (`convert_to_answer_format.py`, spec
 * tooleval.md §2; output format formats.md §4).
 *
 * Upstream builds an execution graph and reduces it to one path by a random walk from an
 * unseeded-order RNG (quirk 10). Here every random choice is a draw fixed by the seed, the query
 * id and what it is about (`seededUniform`), and the choices are returned so they can be recorded.
 */
import { callsOf } from '../search/step.js';
import type { ChatMessage } from '../llm/backbone.js';
import { describeJsonType } from '../util/errors.js';
import { seededUniform } from '../util/seeded-random.js';
import { isPyObject, type PyObject, type PyValue } from '../util/py-value.js';

export type MethodFamily = 'CoT' | 'DFS';

/** The family of a method name, tested as upstream does (`CoT`/`cot` first, then `DFS`/`dfs`). */
export function methodFamily(method: string): MethodFamily | undefined {
  if (method.includes('CoT') || method.includes('cot')) return 'CoT';
  if (method.includes('DFS') || method.includes('dfs')) return 'DFS';
  return undefined;
}

/** A node of the path as written: `tool` messages are `{name, arguments, response}`. */
export interface PathNode {
  role: string;
  message: string | ToolMessage | PyValue;
  next: PathNode[];
}

export interface ToolMessage {
  name: PyValue;
  arguments: PyValue;
  response: PyValue;
}

export interface ConvertedEntry {
  query: PyValue;
  available_tools: PyValue;
  answer: { method: string; total_steps: number; final_answer: PyValue; answer_details: PathNode[] };
  /** Only on entries made by a random choice (invalid data); readers ignore it. */
  toolbench?: { seed: number; choices: number[] };
}

export interface ConvertOptions {
  readonly qid: string;
  readonly method: string;
  readonly family: MethodFamily;
  readonly seed: number;
}

export type ConvertResult =
  | { readonly ok: true; readonly valid: boolean; readonly entry: ConvertedEntry }
  | { readonly ok: false; readonly jsonPath: string; readonly expected: string; readonly got?: string };

/** Raised inside the walk for data that lacks what conversion needs; turned into a result. */
class MissingField extends Error {
  constructor(
    readonly jsonPath: string,
    readonly expected: string,
    readonly got?: string,
  ) {
    super(`${jsonPath}: expected ${expected}`);
  }
}

/** Converts one parsed answer file. Never throws for bad data: it says where the data fell short. */
export function convertAnswer(data: PyValue, options: ConvertOptions): ConvertResult {
  try {
    return { ok: true, ...convertOrThrow(data, options) };
  } catch (error) {
    if (error instanceof MissingField) {
      return { ok: false, jsonPath: error.jsonPath, expected: error.expected, ...(error.got === undefined ? {} : { got: error.got }) };
    }
    throw error;
  }
}

function convertOrThrow(data: PyValue, options: ConvertOptions): { valid: boolean; entry: ConvertedEntry } {
  const root = objectAt(data, '$');
  const generation = objectAt(root.answer_generation, '$.answer_generation');
  const valid = generation.valid_data;
  if (typeof valid !== 'boolean') throw new MissingField('$.answer_generation.valid_data', 'a boolean', describe(valid));
  const query = stringAt(generation.query, '$.answer_generation.query');
  const tools = generation.function;
  if (!Array.isArray(tools)) throw new MissingField('$.answer_generation.function', 'an array', describe(tools));

  let chain: PathNode[];
  let choices: number[] | undefined;
  let finalAnswer: PyValue = '';
  if (valid) {
    chain = validChain(generation);
    finalAnswer = stringAt(generation.final_answer, '$.answer_generation.final_answer');
  } else if (options.family === 'CoT') {
    ({ chain, choices } = invalidCotChain(root, options));
  } else {
    ({ chain, choices } = invalidDfsChain(root, options));
  }
  const entry: ConvertedEntry = {
    query,
    available_tools: tools,
    answer: { method: options.method, total_steps: chain.length + 2, final_answer: finalAnswer, answer_details: [linkPath(chain)] },
  };
  if (choices !== undefined) entry.toolbench = { seed: options.seed, choices };
  return { valid, entry };
}

/** system → user → chain, each node the only element of its parent's `next`. */
function linkPath(chain: readonly PathNode[]): PathNode {
  const nodes: PathNode[] = [{ role: 'system', message: '', next: [] }, { role: 'user', message: '', next: [] }, ...chain];
  for (let index = 0; index + 1 < nodes.length; index++) nodes[index]!.next = [nodes[index + 1]!];
  return nodes[0]!;
}

// ---- valid data (§2.1) --------------------------------------------------------------------

function validChain(generation: PyObject): PathNode[] {
  const conversations = generation.train_messages;
  if (!Array.isArray(conversations) || conversations.length === 0) {
    throw new MissingField('$.answer_generation.train_messages', 'a non-empty array of conversations', describe(conversations));
  }
  const last = conversations.length - 1;
  const base = `$.answer_generation.train_messages[${last}]`;
  const messages = conversations[last];
  if (!Array.isArray(messages)) throw new MissingField(base, 'an array of messages', describe(messages));
  const chain: PathNode[] = [];
  for (let index = 2; index < messages.length; index++) {
    const message = objectAt(messages[index], `${base}[${index}]`) as ChatMessage;
    if (message.role !== 'assistant') continue; // system, user (diversity prompt), function, tool
    // Upstream tests `function_call` for key presence and fails on a null value (quirk 13);
    // a null one is treated as absent here.
    if (isPyObject(message.function_call)) {
      const [call] = callsOf({ role: 'assistant', function_call: message.function_call });
      const name = (message.function_call as PyObject).name ?? '';
      let response: PyValue = '';
      if (call?.name !== 'Finish') {
        const next = messages[index + 1];
        if (!isPyObject(next)) throw new MissingField(`${base}[${index + 1}]`, `the result message of the call at ${base}[${index}]`, describe(next));
        response = next.content ?? null;
      }
      chain.push(toolNode(name, (message.function_call as PyObject).arguments ?? '', response));
      index++; // the result message
    } else if (Array.isArray(message.tool_calls)) {
      chain.push(...toolCallNodes(message, messages, index));
    } else {
      chain.push({ role: 'assistant', message: message.content ?? null, next: [] });
    }
  }
  return chain;
}

/** StableToolBench's `tool_calls`: Finish stops the message's calls; a call with no result is dropped. */
function toolCallNodes(message: ChatMessage, messages: readonly PyValue[], index: number): PathNode[] {
  const nodes: PathNode[] = [];
  for (const call of callsOf(message)) {
    if (call.name === 'Finish') {
      nodes.push(toolNode(call.name, call.arguments, ''));
      break;
    }
    const result = messages
      .slice(index + 1)
      .find((candidate) => isPyObject(candidate) && candidate.role === 'tool' && call.id !== undefined && String(candidate.tool_call_id) === call.id);
    if (isPyObject(result)) nodes.push(toolNode(call.name, call.arguments, result.content ?? null));
  }
  return nodes;
}

function toolNode(name: PyValue, args: PyValue, response: PyValue): PathNode {
  return { role: 'tool', message: { name, arguments: args, response }, next: [] };
}

// ---- invalid data (§2.2) ------------------------------------------------------------------

/** A draw in 0..count-1, fixed by the seed, the query id and what is chosen. */
function pick(options: ConvertOptions, count: number, ...about: string[]): number {
  return Math.min(count - 1, Math.floor(seededUniform(options.seed, options.qid, ...about) * count));
}

/** CoT: one try chosen at random; its chain of Action/Action Input/Thought records. */
function invalidCotChain(root: PyObject, options: ConvertOptions): { chain: PathNode[]; choices: number[] } {
  const trys = root.trys;
  if (!Array.isArray(trys) || trys.length === 0) throw new MissingField('$.trys', 'a non-empty array of tries', describe(trys));
  const choice = pick(options, trys.length, 'cot-try');
  const base = `$.trys[${choice}].chain`;
  const records = objectAt(trys[choice], `$.trys[${choice}]`).chain;
  if (!Array.isArray(records)) throw new MissingField(base, 'an array of node records', describe(records));
  const chain: PathNode[] = [];
  for (let index = 0; index < records.length; index++) {
    const record = objectAt(records[index], `${base}[${index}]`);
    if (record.node_type === 'Action') {
      const input = objectAt(records[index + 1], `${base}[${index + 1}]`);
      chain.push(toolNode(record.description ?? '', input.description ?? '', input.observation ?? ''));
      index++;
    } else if (record.node_type === 'Thought') {
      chain.push({ role: 'assistant', message: record.description ?? '', next: [] });
    } else {
      throw new MissingField(`${base}[${index}].node_type`, '"Action" or "Thought"', describe(record.node_type));
    }
  }
  return { chain, choices: [choice] };
}

/** The merged search tree: Action + its Action Input as one tool node, Thought as assistant. */
interface MergedNode {
  node: PathNode;
  children: MergedNode[];
}

/**
 * DFS: the search tree under the user node, Action/Action Input pairs merged, then one random
 * root-to-leaf walk (uniform at every branching). `choices` are the child indices taken from the
 * user node down.
 */
function invalidDfsChain(root: PyObject, options: ConvertOptions): { chain: PathNode[]; choices: number[] } {
  const tree = objectAt(objectAt(root.tree, '$.tree').tree, '$.tree.tree');
  let level = mergeChildren(tree, '$.tree.tree');
  const chain: PathNode[] = [];
  const choices: number[] = [];
  while (level.length > 0) {
    const choice = level.length === 1 ? 0 : pick(options, level.length, 'dfs-walk', String(chain.length));
    choices.push(choice);
    const chosen = level[choice]!;
    chain.push(chosen.node);
    level = chosen.children;
  }
  return { chain, choices };
}

function mergeChildren(record: PyObject, path: string): MergedNode[] {
  const children = record.children ?? [];
  if (!Array.isArray(children)) throw new MissingField(`${path}.children`, 'an array', describe(children));
  return children.map((child, index) => mergeNode(objectAt(child, `${path}.children[${index}]`), `${path}.children[${index}]`));
}

function mergeNode(record: PyObject, path: string): MergedNode {
  if (record.node_type === 'Thought') {
    return { node: { role: 'assistant', message: record.description ?? '', next: [] }, children: mergeChildren(record, path) };
  }
  if (record.node_type === 'Action') {
    const inputs = Array.isArray(record.children) ? record.children : [];
    const input = inputs[0];
    if (inputs.length !== 1 || !isPyObject(input) || input.node_type !== 'Action Input') {
      throw new MissingField(`${path}.children`, 'exactly one "Action Input" node under an "Action"', `${inputs.length} children`);
    }
    return {
      node: toolNode(record.description ?? '', input.description ?? '', input.observation ?? ''),
      children: mergeChildren(input, `${path}.children[0]`),
    };
  }
  throw new MissingField(`${path}.node_type`, '"Action" or "Thought"', describe(record.node_type));
}

// ---- helpers -------------------------------------------------------------------------------

function objectAt(value: PyValue | undefined, path: string): PyObject {
  if (!isPyObject(value)) throw new MissingField(path, 'an object', describe(value));
  return value;
}

function stringAt(value: PyValue | undefined, path: string): string {
  if (typeof value !== 'string') throw new MissingField(path, 'a string', describe(value));
  return value;
}

function describe(value: PyValue | undefined): string {
  return value === undefined ? 'nothing' : describeJsonType(value);
}
