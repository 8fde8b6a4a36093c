/**
 * `--env replay`: answers only from what was recorded, never from the network (users.md §3:
 * runs must reproduce). Sources, searched in the order given:
 *   - a recording made with `--record DIR` (`*.jsonl`): the observation as the model saw it;
 *   - a StableToolBench response cache (`<Category>/<tool>_for_<Category>/<api>.json`): the
 *     reply, shaped like any other;
 *   - answer trees (DFS `tree` or CoT `trys` files): the observation of each `Action Input` node.
 * The same call made several times is answered with its recorded observations in order, the last
 * one repeating. A call nothing recorded is an explicit error observation (status 12).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { functionName } from '../registry/names.js';
import { ToolbenchError, usageError } from '../util/errors.js';
import { readJsonFile } from '../util/json-file.js';
import { pyJsonParse } from '../util/pyjson-parse.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { isPyObject, type PyObject, type PyValue } from '../util/py-value.js';
import type { RecordingLine } from './recording.js';
import { ResponseCache, cacheKey } from './response-cache.js';
import { TOOL_STATUS, isToolStatus, type ToolStatus } from './status.js';
import type { ApiRef, BackendAnswer, ToolBackend } from './tool-call.js';
import { parseToolInput } from './tool-input.js';

interface Recorded {
  readonly observation: string;
  readonly status: ToolStatus;
}

/** Recorded answers of one call, handed out in order; the last one repeats. */
class AnswerQueue {
  private next = 0;
  constructor(readonly answers: Recorded[]) {}
  take(): Recorded {
    const answer = this.answers[Math.min(this.next, this.answers.length - 1)] as Recorded;
    this.next++;
    return answer;
  }
}

/** One source: answers a call, or says it has nothing for it. */
interface ReplaySource {
  answer(api: ApiRef, args: string): Promise<BackendAnswer | undefined>;
}

export interface ReplayIndex {
  readonly sources: readonly ReplaySource[];
  readonly counts: { recordings: number; trees: number; caches: number; calls: number };
}

export function createReplayBackend(sources: readonly string[], options: { warn: (message: string) => void }): ToolBackend {
  if (sources.length === 0) throw usageError('--env replay needs something to replay: --replay-from DIR (a recording, a response cache or answer trees), or --cache DIR');
  return backendOf(buildReplayIndex(sources, options.warn).sources);
}

/** Replays the calls of one answer file already read (`infer --backbone replay` re-executes it). */
export function createAnswerReplayBackend(answer: PyObject): ToolBackend {
  const calls: Calls = { exact: new Map(), byFunction: new Map() };
  addAnswer({ calls, counts: { recordings: 0, trees: 0, caches: 0, calls: 0 } }, answer);
  return backendOf([callsSource(calls)]);
}

function backendOf(sources: readonly ReplaySource[]): ToolBackend {
  return {
    async answer(api: ApiRef, args: string): Promise<BackendAnswer> {
      for (const source of sources) {
        const answer = await source.answer(api, args);
        if (answer !== undefined) return answer;
      }
      const error = `Replay miss: nothing recorded for ${functionName(api.api, api.tool)} (${api.category}) with arguments ${args}`;
      return { kind: 'recorded', observation: pyJsonDumps({ error, response: '' }), status: TOOL_STATUS.requestFailed, source: 'environment' };
    },
  };
}

export function buildReplayIndex(paths: readonly string[], warn: (message: string) => void): ReplayIndex {
  const sources: ReplaySource[] = [];
  const counts = { recordings: 0, trees: 0, caches: 0, calls: 0 };
  for (const path of paths) {
    const calls: Calls = { exact: new Map(), byFunction: new Map() };
    addSource({ calls, counts }, path, warn, sources);
    if (calls.exact.size + calls.byFunction.size > 0) sources.push(callsSource(calls));
  }
  return { sources, counts };
}

/** Recorded calls of one source, by category/tool/API/arguments (recordings) or function name (trees). */
interface Calls {
  readonly exact: Map<string, AnswerQueue>;
  readonly byFunction: Map<string, AnswerQueue>;
}

interface Collector {
  readonly calls: Calls;
  readonly counts: ReplayIndex['counts'];
}

function callsSource(calls: Calls): ReplaySource {
  return {
    async answer(api, args) {
      const queue = calls.exact.get(exactKey(api, args)) ?? calls.byFunction.get(functionKey(api, args));
      return queue === undefined ? undefined : { kind: 'recorded', ...queue.take(), source: 'recorded' };
    },
  };
}

function cacheSource(cache: ResponseCache): ReplaySource {
  return {
    async answer(api, args) {
      const input = parseToolInput(args);
      if (input === undefined) return undefined;
      const location = { category: api.category, toolDir: `${api.tool}_for_${api.category}`, api: api.api };
      const reply = await cache.lookup(location, cacheKey(input));
      return reply === undefined ? undefined : { kind: 'reply', reply, source: 'recorded' };
    },
  };
}

/** Collects the calls found at `path`; a response cache found there becomes a source of its own. */
function addSource(collector: Collector, path: string, warn: (message: string) => void, sources: ReplaySource[]): void {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw usageError(`--replay-from ${path}: no such file or directory`);
  }
  if (!stats.isDirectory()) {
    if (extname(path) === '.jsonl') addRecording(collector, path, warn);
    else addAnswerFile(collector, path, warn);
    return;
  }
  const entries = readdirSync(path, { withFileTypes: true }).sort(byName);
  const recordings = entries.filter((entry) => entry.isFile() && entry.name.endsWith('.jsonl'));
  if (recordings.length > 0) {
    for (const entry of recordings) addRecording(collector, join(path, entry.name), warn);
    return;
  }
  if (looksLikeCache(path, entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name))) {
    sources.push(cacheSource(new ResponseCache(path, { warn })));
    collector.counts.caches++;
    return;
  }
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) addSource(collector, child, warn, sources);
    else if (entry.isFile() && entry.name.endsWith('.json')) addAnswerFile(collector, child, warn);
  }
}

/** A cache holds `<Category>/<something>_for_<Category>/` folders. */
function looksLikeCache(root: string, categories: readonly string[]): boolean {
  return categories.some((category) => {
    try {
      return readdirSync(join(root, category)).some((name) => name.endsWith(`_for_${category}`));
    } catch {
      return false;
    }
  });
}

function addRecording(index: Collector, file: string, warn: (message: string) => void): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((text, lineIndex) => {
    if (text.trim() === '') return;
    let line: RecordingLine;
    try {
      line = pyJsonParse(text) as unknown as RecordingLine;
    } catch {
      // The last line of a run that crashed may be cut short; anything else is damage.
      warn(`${file}:${lineIndex + 1}: not a recording line, skipped`);
      return;
    }
    if (typeof line.observation !== 'string' || !isToolStatus(line.status) || typeof line.args !== 'string') {
      warn(`${file}:${lineIndex + 1}: not a recording line, skipped`);
      return;
    }
    const api = { category: String(line.category), tool: String(line.tool), api: String(line.api) };
    push(index.calls.exact, exactKey(api, line.args), { observation: line.observation, status: line.status });
    index.counts.calls++;
  });
  index.counts.recordings++;
}

function addAnswerFile(index: Collector, file: string, warn: (message: string) => void): void {
  let answer: PyValue;
  try {
    answer = readJsonFile(file);
  } catch (error) {
    if (!(error instanceof ToolbenchError)) throw error;
    warn(`${error.message} (skipped)`);
    return;
  }
  if (isPyObject(answer)) addAnswer(index, answer);
}

function addAnswer(index: Collector, answer: PyObject): void {
  const chains: PyValue[][] = [];
  const tree = isPyObject(answer.tree) ? answer.tree.tree : undefined;
  if (isPyObject(tree)) chains.push(preorder(tree));
  if (Array.isArray(answer.trys)) {
    for (const attempt of answer.trys) if (isPyObject(attempt) && Array.isArray(attempt.chain)) chains.push(attempt.chain);
  }
  if (chains.length === 0) return;
  const resolve = functionResolver(answer);
  for (const chain of chains) index.counts.calls += addChain(index.calls, chain, resolve);
  index.counts.trees++;
}

/** Nodes in the order the search created them: the k-th child of a node is its k-th expansion. */
function preorder(root: PyObject): PyValue[] {
  const nodes: PyValue[] = [];
  const stack: PyValue[] = [root];
  while (stack.length > 0) {
    const node = stack.pop() as PyValue;
    nodes.push(node);
    if (isPyObject(node) && Array.isArray(node.children)) stack.push(...[...node.children].reverse());
  }
  return nodes;
}

/**
 * Upstream runs the first function of the list whose name ends with the name the model wrote
 * (algorithms.md §2.4, quirk 3), so a call recorded as `dota_2_steam_web` may have run
 * `match_history_for_dota_2_steam_web`: index it under the function that ran.
 */
function functionResolver(answer: PyObject): (name: string) => string {
  const generation = isPyObject(answer.answer_generation) ? answer.answer_generation : undefined;
  const listed = Array.isArray(generation?.function) ? generation.function : [];
  const names = listed
    .map((entry) => (isPyObject(entry) && isPyObject(entry.function) ? entry.function : entry))
    .map((entry) => (isPyObject(entry) && typeof entry.name === 'string' ? entry.name : undefined))
    .filter((name): name is string => name !== undefined && name !== 'Finish');
  return (name) => names.find((candidate) => candidate.endsWith(name)) ?? name;
}

/** Each `Action` node followed by its `Action Input` with an observation is one recorded call. */
function addChain(calls: Calls, nodes: readonly PyValue[], resolve: (name: string) => string): number {
  let count = 0;
  let action: string | undefined;
  for (const node of nodes) {
    if (!isPyObject(node)) continue;
    if (node.node_type === 'Action') {
      action = typeof node.description === 'string' ? node.description : undefined;
      continue;
    }
    if (node.node_type !== 'Action Input' || action === undefined || action === 'Finish') continue;
    const { description, observation, observation_code: status } = node;
    if (typeof description === 'string' && typeof observation === 'string' && isToolStatus(status) && status !== TOOL_STATUS.noSuchFunction) {
      push(calls.byFunction, `${resolve(action)}\u0000${description}`, { observation, status });
      count++;
    }
    action = undefined;
  }
  return count;
}

function push(map: Map<string, AnswerQueue>, key: string, answer: Recorded): void {
  const queue = map.get(key);
  if (queue === undefined) map.set(key, new AnswerQueue([answer]));
  else queue.answers.push(answer);
}

function exactKey(api: ApiRef, args: string): string {
  return `${api.category}\u0000${api.tool}\u0000${api.api}\u0000${args}`;
}

function functionKey(api: ApiRef, args: string): string {
  return `${functionName(api.api, api.tool)}\u0000${args}`;
}

function byName(left: { name: string }, right: { name: string }): number {
  return left.name < right.name ? -1 : left.name > right.name ? 1 : 0;
}
