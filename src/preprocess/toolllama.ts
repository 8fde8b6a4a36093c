/**
 * `preprocess toolllama`: ToolBench's `preprocess_toolllama_data.py` (preprocess-and-train.md §4,
 * formats.md §9). Every conversation of an answer's `train_messages` becomes one training
 * instance whose last assistant turn is the step learned: system (with the ToolLLaMA format
 * instruction and the function list), user, function and assistant turns in ReAct text.
 *
 * Upstream's behaviour is kept, including what it drops (quirk 5): an assistant message with a
 * call loses its text, content-only assistant messages become the next call's Thought, and a
 * conversation whose last assistant message has no call gives no instance. One difference: a
 * `function_call: null` key counts as no call (upstream crashes on it). Upstream reads content
 * as `content or ""` in a Thought, so a null thought is empty.
 */
import { processSystemMessage, type PromptFunction } from '../llm/toolllama-prompt.js';
import { isPyObject, isPyTruthy, type PyObject, type PyValue } from '../util/py-value.js';
import { pyStr } from '../util/pyrepr.js';

export interface SftTurn {
  /** system, user, function, assistant; any other role is kept as it is, as upstream does. */
  readonly from: string;
  readonly value: PyValue;
}

export interface SftInstance {
  readonly id: string;
  readonly conversations: readonly SftTurn[];
}

export type AnswerConversion = { readonly ok: true; readonly instances: readonly SftInstance[] } | { readonly ok: false; readonly reason: string };

export function sftInstances(answer: PyValue): AnswerConversion {
  if (!isPyObject(answer)) return { ok: false, reason: 'not a JSON object' };
  const generation = answer['answer_generation'];
  if (!isPyObject(generation)) return { ok: false, reason: '$.answer_generation: expected an object' };
  if (!isPyTruthy(generation['valid_data'])) return { ok: false, reason: 'answer_generation.valid_data is false' };
  const functions = generation['function'];
  if (!Array.isArray(functions)) return { ok: false, reason: '$.answer_generation.function: expected the list of functions' };
  const query = generation['query'];
  if (typeof query !== 'string') return { ok: false, reason: '$.answer_generation.query: expected a string' };
  const conversations = generation['train_messages'];
  if (!Array.isArray(conversations)) return { ok: false, reason: '$.answer_generation.train_messages: expected a list of conversations' };
  const instances: SftInstance[] = [];
  // every conversation of an answer starts with the same system message: rewrite it once
  const systemPrompts = new Map<string, string>();
  const systemPrompt = (content: string): string => {
    let prompt = systemPrompts.get(content);
    if (prompt === undefined) {
      prompt = processSystemMessage(content, functions as readonly PromptFunction[]);
      systemPrompts.set(content, prompt);
    }
    return prompt;
  };
  for (const [index, conversation] of conversations.entries()) {
    if (!Array.isArray(conversation) || !conversation.every(isPyObject)) {
      return { ok: false, reason: `$.answer_generation.train_messages[${index}]: expected a list of messages` };
    }
    try {
      const instance = conversationInstance(conversation as readonly PyObject[], systemPrompt, query);
      if (instance !== undefined) instances.push(instance);
    } catch (error) {
      return { ok: false, reason: `$.answer_generation.train_messages[${index}]: ${(error as Error).message}` };
    }
  }
  return { ok: true, instances };
}

function conversationInstance(messages: readonly PyObject[], systemPrompt: (content: string) => string, query: string): SftInstance | undefined {
  const turns: SftTurn[] = [];
  let react = '';
  for (const [index, message] of messages.entries()) {
    const role = message['role'];
    const content = message['content'] ?? null;
    if (role === 'system') {
      if (typeof content !== 'string') throw new Error(`message ${index}: a system message without text`);
      turns.push({ from: 'system', value: systemPrompt(content) });
      react = '';
    } else if (role !== 'assistant') {
      turns.push({ from: pyStr(role ?? null), value: content });
      react = '';
    } else {
      const last = index === messages.length - 1;
      const call = message['function_call'];
      if (!isPyObject(call)) {
        if (last) return undefined;
        react += `\nThought: ${content === null ? '' : pyStr(content)}`;
        continue;
      }
      react = `${react === '' ? '\nThought: ' : react}\nAction: ${pyStr(call['name'] ?? null)}\nAction Input: ${pyStr(call['arguments'] ?? null)}`;
      turns.push({ from: 'assistant', value: react });
      react = '';
      if (last) return { id: `Step ${index}: ${query}`, conversations: turns };
    }
  }
  return undefined;
}
