/**
 * One answer file of `preprocess toolllama`, converted on its own: read, checked, turned into
 * SFT instances, split between train and eval, and laid out as the output arrays' items. It needs
 * nothing from other files, so answer files can be converted on worker threads and their texts
 * written in name order by the caller.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolbenchError } from '../util/errors.js';
import { fileError, readJsonFile } from '../util/json-file.js';
import { pyJsonParse } from '../util/pyjson-parse.js';
import type { PyValue } from '../util/py-value.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { seededUniform } from '../util/seeded-random.js';
import { sftInstances, type SftInstance } from './toolllama.js';

/** How instances are sent to the eval file: a seeded share, drawn per file name and position. */
export interface EvalSplit {
  readonly seed: number;
  /** 0 when there is no eval file. */
  readonly ratio: number;
}

/** The items of the output arrays, laid out and joined with `,\n`, or why the file was skipped. */
export type ConvertedFile =
  | { readonly skipped: string }
  | { readonly train: string; readonly trainCount: number; readonly eval: string; readonly evalCount: number };

/** Answer files of one folder, converted together (the unit of work sent to a thread). */
export interface ConvertBatch {
  readonly answers: string;
  readonly names: readonly string[];
  readonly split: EvalSplit;
}

export function convertBatch({ answers, names, split }: ConvertBatch): ConvertedFile[] {
  return names.map((name) => convertAnswerFile(answers, name, split));
}

export function convertAnswerFile(answers: string, name: string, split: EvalSplit): ConvertedFile {
  const file = join(answers, name);
  let data: PyValue;
  try {
    data = readAnswerGeneration(file);
  } catch (error) {
    if (!(error instanceof ToolbenchError)) throw error;
    return { skipped: error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message };
  }
  const result = sftInstances(data);
  if (!result.ok) return { skipped: result.reason };
  const train: string[] = [];
  const evaluation: string[] = [];
  const layout = itemLayout();
  result.instances.forEach((instance, position) => {
    const toEval = split.ratio > 0 && seededUniform(split.seed, 'sft-eval', name, String(position)) < split.ratio;
    (toEval ? evaluation : train).push(layout(instance));
  });
  return { train: train.join(',\n'), trainCount: train.length, eval: evaluation.join(',\n'), evalCount: evaluation.length };
}

/**
 * The answer file as far as preprocessing reads it: `{answer_generation}`. The search tree that
 * precedes it is most of the file and often holds text (`"1.0"`) that sends the whole file to the
 * careful parser; when `answer_generation` is the last top-level key, as upstream writes it, only
 * its own text is parsed. Anything else falls back to reading the whole file.
 */
function readAnswerGeneration(file: string): PyValue {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw fileError(file, error);
  }
  // only the text from the key on is decoded: the tree before it is most of the file
  const at = bytes.lastIndexOf(ANSWER_GENERATION_KEY);
  const before = at < 0 ? '' : bytes.toString('utf8', Math.max(0, at - 64), at);
  const value = at < 0 ? undefined : lastTopLevelValue(before, bytes.toString('utf8', at));
  if (value !== undefined) {
    try {
      return { answer_generation: parseAnswerGeneration(value) };
    } catch {
      // not what it looked like: the whole file is parsed below, which also reports errors well
    }
  }
  return readJsonFile(file);
}

const ANSWER_GENERATION_KEY = Buffer.from('"answer_generation"');

/**
 * The text of the key's object value when it is the last key of the top-level object, else
 * undefined: from the `{` after the key to the file's closing brace. Text that is not exactly one
 * value (the key was not the last one, or a nested key was found) fails JSON.parse, and the caller
 * then reads the whole file. `before` is what precedes the key, `text` starts with the key.
 */
function lastTopLevelValue(before: string, text: string): string | undefined {
  // a key inside a string would be preceded by a backslash (an escaped quote)
  const preceding = before.trimEnd();
  if (!preceding.endsWith(',') && !preceding.endsWith('{')) return undefined;
  const keyLength = ANSWER_GENERATION_KEY.length;
  const colon = /^[ \t\n\r]*:[ \t\n\r]*/.exec(text.slice(keyLength, keyLength + 64));
  const start = keyLength + (colon?.[0].length ?? 0);
  if (colon === null || text[start] !== '{') return undefined;
  const document = text.trimEnd();
  if (!document.endsWith('}')) return undefined;
  return document.slice(start, -1);
}

/**
 * Only the function list is printed as Python would (its repr goes into the system prompt), so
 * only it needs the careful parser, as long as every message field used is a string (which the
 * native parser keeps as it is). Anything else, or a function list found elsewhere than where
 * the native parse puts it, goes through the careful parser whole.
 */
function parseAnswerGeneration(text: string): PyValue {
  const generation = JSON.parse(text) as Record<string, PyValue>;
  // an answer that is skipped (invalid, or without conversations) needs no careful reading
  if (generation['valid_data'] === false || !Array.isArray(generation['train_messages'])) return generation;
  const functions = functionListText(text);
  if (functions === undefined || !messagesAreText(generation['train_messages']) || JSON.stringify(JSON.parse(functions)) !== JSON.stringify(generation['function'])) {
    return pyJsonParse(text);
  }
  generation['function'] = pyJsonParse(functions);
  return generation;
}

/** True when every message's role, content, call name and arguments are strings (or null). */
function messagesAreText(conversations: PyValue | undefined): boolean {
  if (!Array.isArray(conversations)) return false;
  const text = (value: PyValue | undefined): boolean => value === undefined || value === null || typeof value === 'string';
  return conversations.every(
    (conversation) =>
      Array.isArray(conversation) &&
      conversation.every((message) => {
        if (typeof message !== 'object' || message === null || Array.isArray(message)) return false;
        const record = message as Record<string, PyValue>;
        const call = record['function_call'] as Record<string, PyValue> | null | undefined;
        return text(record['role']) && text(record['content']) && (call === undefined || call === null || (text(call['name']) && text(call['arguments'])));
      }),
  );
}

/** The text of the first `"function": [...]` (not inside a string), as upstream places it first. */
function functionListText(text: string): string | undefined {
  const key = '"function": [';
  const at = text.indexOf(key);
  if (at < 0 || text[at - 1] === '\\') return undefined;
  const start = at + key.length - 1;
  const end = matchingBrace(text, start);
  return end < 0 ? undefined : text.slice(start, end + 1);
}

/** Index of the `}` closing the object that starts at `start`, skipping strings; -1 if none. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  const structural = /["{}\[\]]/g;
  structural.lastIndex = start;
  for (let match = structural.exec(text); match !== null; match = structural.exec(text)) {
    const character = match[0];
    if (character === '"') {
      // jump to the closing quote: one not preceded by an odd number of backslashes
      let index = match.index + 1;
      for (;;) {
        index = text.indexOf('"', index);
        if (index < 0) return -1;
        let backslashes = 0;
        while (text[index - 1 - backslashes] === '\\') backslashes++;
        if (backslashes % 2 === 0) break;
        index++;
      }
      structural.lastIndex = index + 1;
    } else if (character === '{' || character === '[') depth++;
    else if (--depth === 0) return match.index;
  }
  return -1;
}

/**
 * Lays out an instance as an item of Python's `json.dump(indent=4, ensure_ascii=False)` array.
 * The instances of one answer repeat each other's turns (each adds a step), so a turn's quoted
 * text is remembered within the answer instead of being escaped again for every instance.
 */
function itemLayout(): (instance: SftInstance) => string {
  const quoted = new Map<string, string>();
  const quote = (value: PyValue): string => {
    // anything but a string is laid out over lines, at the depth of a turn's value
    if (typeof value !== 'string') return pyJsonDumps(value, { indent: 4, ensureAscii: false }).replaceAll('\n', `\n${' '.repeat(16)}`);
    let text = quoted.get(value);
    if (text === undefined) {
      text = pyJsonDumps(value, { ensureAscii: false });
      quoted.set(value, text);
    }
    return text;
  };
  return (instance) => {
    const turns = instance.conversations
      .map((turn) => `\n            {\n                "from": ${quote(turn.from)},\n                "value": ${quote(turn.value)}\n            }`)
      .join(',');
    const conversations = turns === '' ? '[]' : `[${turns}\n        ]`;
    return `    {\n        "id": ${quote(instance.id)},\n        "conversations": ${conversations}\n    }`;
  };
}
