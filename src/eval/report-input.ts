/**
 * Reads one summary file (`<name>.summary.json`, schema in summary.ts) for `eval report`. The
 * report trusts nothing it prints: every field it reads is checked here, and a bad one is an
 * input error naming the file, the JSON path and what was expected (style.md convention 7).
 * Plain JSON.parse is enough: the writer emits plain JSON numbers, never NaN or big integers.
 */
import { describeJsonType, inputError } from '../util/errors.js';
import { childPath } from '../util/json-path.js';
import type {
  EvalSummary,
  JudgeIdentity,
  PassRateRun,
  PassRateSummary,
  PreferenceRound,
  PreferenceSummary,
  Protocol,
  VerdictCounts,
} from './summary.js';

type JsonObject = Readonly<Record<string, unknown>>;

const PROTOCOLS: readonly Protocol[] = ['toolbench', 'stable'];
const ROUNDING_SLACK = 1e-9;

export function parseSummary(text: string, file: string): EvalSummary {
  let data: unknown;
  try {
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw inputError(file, '$', 'a JSON document', { got: (error as Error).message, cause: error });
  }
  const check = summaryChecker(file);
  const root = check.object(data, '$');
  const kind = check.oneOf(root, '$', 'kind', ['pass-rate', 'preference'] as const);
  return kind === 'pass-rate' ? check.passRate(root) : check.preference(root);
}

/** Field readers bound to one file; each returns the typed value or throws the input error. */
function summaryChecker(file: string) {
  const fail = (path: string, expected: string, value: unknown, got?: string): never => {
    throw inputError(file, path, expected, { got: got ?? (value === undefined ? 'nothing (key missing)' : describeJsonType(value)) });
  };
  const object = (value: unknown, path: string): JsonObject =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : fail(path, 'an object', value);
  const text = (parent: JsonObject, path: string, key: string): string => {
    const value = parent[key];
    return typeof value === 'string' && value !== '' ? value : fail(childPath(path, key), 'a non-empty string', value);
  };
  const oneOf = <T extends string>(parent: JsonObject, path: string, key: string, allowed: readonly T[]): T => {
    const value = parent[key];
    return allowed.includes(value as T) ? (value as T) : fail(childPath(path, key), allowed.map((name) => JSON.stringify(name)).join(' or '), value, typeof value === 'string' ? JSON.stringify(value) : undefined);
  };
  const count = (parent: JsonObject, path: string, key: string): number => {
    const value = parent[key];
    return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : fail(childPath(path, key), 'an integer of at least 0', value, typeof value === 'number' ? String(value) : undefined);
  };
  const bounded = (parent: JsonObject, path: string, key: string, maximum: number): number => {
    const value = parent[key];
    // rates rescaled by the writer (rate_answered_only) can land a rounding step above 100
    const ok = typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= maximum + ROUNDING_SLACK;
    return ok ? value : fail(childPath(path, key), `a number from 0 to ${maximum}`, value, typeof value === 'number' ? String(value) : undefined);
  };
  const percent = (parent: JsonObject, path: string, key: string): number => bounded(parent, path, key, 100);
  const array = (parent: JsonObject, path: string, key: string): readonly unknown[] => {
    const value = parent[key];
    return Array.isArray(value) ? value : fail(childPath(path, key), 'an array', value);
  };
  const strings = (parent: JsonObject, path: string, key: string): readonly string[] => {
    const itemsPath = childPath(path, key);
    return array(parent, path, key).map((item, index) => (typeof item === 'string' ? item : fail(childPath(itemsPath, index), 'a string', item)));
  };
  /** Items of an array of objects, each with a distinct `indexKey` (run or round number). */
  const numbered = <T>(parent: JsonObject, path: string, key: string, indexKey: string, read: (item: JsonObject, itemPath: string) => T): T[] => {
    const itemsPath = childPath(path, key);
    const seen = new Set<number>();
    return array(parent, path, key).map((value, index) => {
      const itemPath = childPath(itemsPath, index);
      const item = object(value, itemPath);
      const number = count(item, itemPath, indexKey);
      if (seen.has(number)) fail(childPath(itemPath, indexKey), `a ${indexKey} number not used by an earlier item`, number, String(number));
      seen.add(number);
      return read(item, itemPath);
    });
  };
  const judge = (parent: JsonObject, path: string): JudgeIdentity => {
    const judgePath = childPath(path, 'judge');
    const value = object(parent.judge, judgePath);
    return {
      evaluator: text(value, judgePath, 'evaluator'),
      model: text(value, judgePath, 'model'),
      template_sha256: text(value, judgePath, 'template_sha256'),
      config_sha256: text(value, judgePath, 'config_sha256'),
    };
  };
  const counts = (parent: JsonObject, path: string): VerdictCounts => {
    const countsPath = childPath(path, 'counts');
    const value = object(parent.counts, countsPath);
    return {
      solved: count(value, countsPath, 'solved'),
      unsure: count(value, countsPath, 'unsure'),
      unsolved: count(value, countsPath, 'unsolved'),
      missing: count(value, countsPath, 'missing'),
      errors: count(value, countsPath, 'errors'),
    };
  };
  const answeredWithinTotal = (root: JsonObject, total: number): number => {
    const answered = count(root, '$', 'answered');
    return answered <= total ? answered : fail('$.answered', `at most total (${total})`, answered, String(answered));
  };

  // absent in a summary means complete; an interrupted run writes false
  const complete = (root: JsonObject): boolean =>
    root.complete === undefined || typeof root.complete === 'boolean' ? root.complete !== false : fail('$.complete', 'true or false', root.complete);

  const passRate = (root: JsonObject): PassRateSummary => {
    const total = count(root, '$', 'total');
    return {
      kind: 'pass-rate',
      complete: complete(root),
      protocol: oneOf(root, '$', 'protocol', PROTOCOLS),
      test_set: text(root, '$', 'test_set'),
      model: text(root, '$', 'model'),
      judge: judge(root, '$'),
      evaluate_times: count(root, '$', 'evaluate_times'),
      total,
      answered: answeredWithinTotal(root, total),
      missing_ids: strings(root, '$', 'missing_ids'),
      rate: percent(root, '$', 'rate'),
      std: percent(root, '$', 'std'),
      rate_answered_only: percent(root, '$', 'rate_answered_only'),
      counts: counts(root, '$'),
      runs: numbered(root, '$', 'runs', 'run', (item, itemPath): PassRateRun => ({
        run: count(item, itemPath, 'run'),
        rate: percent(item, itemPath, 'rate'),
        counts: counts(item, itemPath),
      })),
    };
  };

  const preference = (root: JsonObject): PreferenceSummary => {
    const missing = object(root.missing, '$.missing');
    return {
      kind: 'preference',
      complete: complete(root),
      protocol: oneOf(root, '$', 'protocol', PROTOCOLS),
      test_set: text(root, '$', 'test_set'),
      reference: text(root, '$', 'reference'),
      candidate: text(root, '$', 'candidate'),
      judge: judge(root, '$'),
      evaluate_times: count(root, '$', 'evaluate_times'),
      total: count(root, '$', 'total'),
      wins: count(root, '$', 'wins'),
      ties: count(root, '$', 'ties'),
      losses: count(root, '$', 'losses'),
      win_rate: percent(root, '$', 'win_rate'),
      tie_rate: percent(root, '$', 'tie_rate'),
      std: percent(root, '$', 'std'),
      missing: { reference: strings(missing, '$.missing', 'reference'), candidate: strings(missing, '$.missing', 'candidate') },
      errors: count(root, '$', 'errors'),
      rounds: numbered(root, '$', 'rounds', 'round', (item, itemPath): PreferenceRound => ({
        round: count(item, itemPath, 'round'),
        win_rate: percent(item, itemPath, 'win_rate'),
      })),
    };
  };

  return { object, oneOf, passRate, preference };
}
