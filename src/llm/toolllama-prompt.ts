/**
 * ToolLLaMA's prompt text (spec algorithms.md §6.3, §6.5; prompts.md §1.9, §1.10, §1.12): the
 * node's conversation rendered with the `tool-llama-single-round` roles, one `<Role>: <content>\n`
 * per message, then `Assistant:\n`. Shared by the completions-endpoint backbone and, later, the
 * in-process model runner, so both send the model the same bytes.
 */
import { TOOLLLAMA_SYSTEM_REWRITE } from '../protocol/prompts.js';
import type { OpenAIFunction } from '../registry/function-schema.js';
import { ToolbenchError } from '../util/errors.js';
import { isPyObject, type PyValue } from '../util/py-value.js';
import { pyStr } from '../util/pyrepr.js';
import type { ChatMessage } from './backbone.js';
import { reactParse } from './react-parser.js';

/**
 * How earlier assistant turns appear in the prompt (algorithms.md quirk 12,
 * preprocess-and-train.md §5.7 "Differences between training and inference"):
 * - `training` (default): `\nThought: <thought>\nAction: <name>\nAction Input: <arguments>`, what
 *   the released checkpoints were trained on (preprocess-and-train.md §4);
 * - `toolbench`: the thought only (upstream ToolBench, whose messages store the thought as content;
 *   a `tools`-shape message that stores the raw generation contributes its parsed thought);
 * - `stabletoolbench`: the content as stored (upstream StableToolBench: the raw generation).
 */
export type ToolLlamaHistory = 'training' | 'toolbench' | 'stabletoolbench';

export const TOOLLLAMA_HISTORIES: readonly ToolLlamaHistory[] = ['training', 'toolbench', 'stabletoolbench'];

/** A function list entry: the plain schema, or the `tools` shape around it (unwrapped, as StableToolBench does). */
export type PromptFunction = OpenAIFunction | { readonly type: 'function'; readonly function: OpenAIFunction };

export interface ToolLlamaPromptOptions {
  readonly history: ToolLlamaHistory;
}

/** `tool-llama-single-round` roles (prompts.md §1.12); StableToolBench maps `tool` to `Function` too (§6.5). */
const ROLE_NAMES: { readonly [role: string]: string } = {
  system: 'System',
  user: 'User',
  function: 'Function',
  tool: 'Function',
  assistant: 'Assistant',
};

/**
 * prompts.md §1.9, `process_system_message`: insert the Thought/Action/Action Input format
 * instruction, then append `\nSpecifically, you have access to the following APIs: ` + `str(functions)`.
 * Python's `str.replace` replaces every occurrence (the agent prompt has exactly one).
 */
export function processSystemMessage(content: string, functions: readonly PromptFunction[]): string {
  const { search, replacement, suffix } = TOOLLLAMA_SYSTEM_REWRITE;
  if (!content.includes(search)) {
    // Upstream asserts this (and so fails on the DFS_wFilter ranking prompt, quirk 31).
    throw new ToolbenchError(
      'llm.prompt',
      1,
      `toolllama: the system message lacks "${search}", which the ToolLLaMA format instruction is inserted after`,
    );
  }
  return content.split(search).join(replacement) + suffix + pyStr(functions.map(plainFunction));
}

/**
 * The whole prompt for one generation. Every message counts, including diversity prompts marked
 * `valid: false` (quirk 13). The system message is rewritten only when the function list is not
 * empty (as upstream; the ranking call passes none, see the backbone).
 *
 * `None` content is rendered as Python would print it where upstream prints it: the f-string
 * `f"{role}: {content}\n"` gives `None` (toolbench, stabletoolbench and non-assistant messages in
 * every mode), while the training data uses `content or ""` (training-mode assistant turns).
 */
export function buildToolLlamaPrompt(
  messages: readonly ChatMessage[],
  functions: readonly PromptFunction[],
  options: ToolLlamaPromptOptions,
): string {
  let prompt = '';
  messages.forEach((message, index) => {
    const role = ROLE_NAMES[message.role];
    if (role === undefined) {
      throw new ToolbenchError('llm.prompt', 1, `toolllama: message ${index} has role "${message.role}", which ToolLLaMA's template has no turn for`);
    }
    let content: string;
    if (message.role === 'system' && functions.length > 0) content = processSystemMessage(pyStr(message.content), functions);
    else if (message.role === 'assistant') content = assistantTurn(message, options.history);
    else content = pyStr(message.content);
    prompt += `${role}: ${content}\n`;
  });
  return `${prompt}Assistant:\n`;
}

function plainFunction(entry: PromptFunction): OpenAIFunction {
  return 'function' in entry && entry.type === 'function' ? entry.function : (entry as OpenAIFunction);
}

function assistantTurn(message: ChatMessage, history: ToolLlamaHistory): string {
  if (history === 'stabletoolbench') return pyStr(message.content);
  const call = firstCall(message);
  if (history === 'toolbench') {
    return typeof message.content === 'string' && call !== undefined ? thoughtOf(message, message.content, call) : pyStr(message.content);
  }
  const content = typeof message.content === 'string' ? message.content : message.content == null ? '' : pyStr(message.content);
  if (call === undefined) return `\nThought: ${content}`;
  return `\nThought: ${thoughtOf(message, content, call)}\nAction: ${call.name}\nAction Input: ${call.arguments}`;
}

interface RenderedCall {
  readonly name: string;
  readonly arguments: string;
}

/** The message's `function_call`, or its first `tool_calls` entry (preprocess-and-train.md §4 renders one call per turn). */
function firstCall(message: ChatMessage): RenderedCall | undefined {
  const functionCall = message.function_call;
  if (isPyObject(functionCall)) return renderedCall(functionCall);
  const toolCalls = message.tool_calls;
  if (Array.isArray(toolCalls) && toolCalls.length > 0) {
    const first: PyValue = toolCalls[0];
    if (isPyObject(first) && isPyObject(first.function)) return renderedCall(first.function);
  }
  return undefined;
}

function renderedCall(call: { readonly [key: string]: PyValue }): RenderedCall {
  return { name: pyStr(call.name ?? ''), arguments: pyStr(call.arguments ?? '') };
}

/**
 * The thought of an assistant message. In the `tools` shape this backbone stores the raw
 * generation as `content` (algorithms.md §6.5); when the content parses to the very arguments the
 * call carries, it is such a generation and its thought is the parsed one (otherwise the turn
 * would repeat `Action:` lines). Anything else (ToolBench's thought-only content, ChatGPT
 * messages, the overflow give-up) is the thought as it stands.
 */
function thoughtOf(message: ChatMessage, content: string, call: RenderedCall): string {
  if (!Array.isArray(message.tool_calls)) return content;
  const parsed = reactParse(content);
  return parsed.actionInput === call.arguments && content.includes('\nAction Input: ') ? parsed.thought : content;
}
