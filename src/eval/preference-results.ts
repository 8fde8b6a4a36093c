/**
 * Preference (win-rate) results: upstream's JSON and CSV (formats.md §6), the summary, and an
 * upstream JSON read back as per-round votes (`--judge replay:FILE`).
 */
import { describeJsonType, inputError } from '../util/errors.js';
import { readJsonFile } from '../util/json-file.js';
import { pyCsvRow } from '../util/py-csv.js';
import { isPyObject, orderedKeys, orderedObject, type PyValue } from '../util/py-value.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { getSteps, toolNames, type ConvertedAnswer } from './converted.js';
import { populationStd, type JudgeIdentity, type PreferenceSummary, type Protocol } from './summary.js';

/** One round's outcome for one query. `via` says who decided: the judge, pass-rate verdicts, or a missing answer. */
export interface RoundVote {
  readonly winner: 'reference' | 'candidate' | null;
  readonly via: 'judge' | 'pass-rate' | 'missing';
}

export type VoteTable = Map<string, Map<number, RoundVote>>;

export function preferenceFileBase(outDir: string, testSet: string, reference: string, candidate: string): string {
  return `${outDir}/${testSet}_${reference}_${candidate}`;
}

function tally(rounds: ReadonlyMap<number, RoundVote>): { reference: number; candidate: number } {
  let reference = 0;
  let candidate = 0;
  for (const vote of rounds.values()) {
    if (vote.winner === 'reference') reference++;
    else if (vote.winner === 'candidate') candidate++;
  }
  return { reference, candidate };
}

/** `{qid: {<reference>: n, <candidate>: m, round_0: "complete"|"incomplete", …}}`, indent 4, non-ASCII kept. */
export function preferenceJson(ids: readonly string[], votes: VoteTable, reference: string, candidate: string, rounds: number): string {
  const entries = ids.flatMap((qid): [string, PyValue][] => {
    const table = votes.get(qid);
    if (table === undefined || table.size === 0) return [];
    const counts = tally(table);
    const record: [string, PyValue][] = [[reference, counts.reference], [candidate, counts.candidate]];
    for (let round = 0; round < rounds; round++) record.push([`round_${round}`, table.get(round)?.via === 'judge' ? 'complete' : 'incomplete']);
    return [[qid, orderedObject(record)]];
  });
  return pyJsonDumps(orderedObject(entries), { indent: 4, ensureAscii: false });
}

const CSV_HEADER = ['query', 'available_tools', 'ref_model_intermediate_steps', 'ref_model_final_step', 'output_model_intermediate_steps', 'output_model_final_step', 'preference_label', 'query_id', 'ref_model', 'output_model'];

/**
 * The upstream CSV: label 1 reference preferred, 2 candidate, 3 tie. Upstream's writer fails on
 * a missing answer (quirk 4); here its cells are left empty.
 */
export function preferenceCsv(
  ids: readonly string[],
  votes: VoteTable,
  answers: { readonly reference: ReadonlyMap<string, ConvertedAnswer>; readonly candidate: ReadonlyMap<string, ConvertedAnswer> },
  reference: string,
  candidate: string,
): string {
  const lines = [pyCsvRow(CSV_HEADER)];
  for (const qid of ids) {
    const table = votes.get(qid);
    if (table === undefined || table.size === 0) continue;
    const counts = tally(table);
    const label = counts.reference > counts.candidate ? 1 : counts.reference < counts.candidate ? 2 : 3;
    const ref = answers.reference.get(qid);
    const out = answers.candidate.get(qid);
    const refSteps = ref === undefined ? undefined : getSteps(ref.answer);
    const outSteps = out === undefined ? undefined : getSteps(out.answer);
    const query = (ref ?? out)?.query ?? '';
    lines.push(
      pyCsvRow([query, ref === undefined ? '' : toolNames(ref.availableTools), refSteps?.answerSteps ?? '', refSteps?.finalStep ?? '', outSteps?.answerSteps ?? '', outSteps?.finalStep ?? '', label, qid, reference, candidate]),
    );
  }
  return lines.join('');
}

export interface PreferenceSummaryInput {
  readonly complete: boolean;
  readonly protocol: Protocol;
  readonly testSet: string;
  readonly reference: string;
  readonly candidate: string;
  readonly judge: JudgeIdentity;
  readonly rounds: number;
  readonly testIds: readonly string[];
  readonly votes: VoteTable;
  readonly missing: { readonly reference: readonly string[]; readonly candidate: readonly string[] };
  readonly errors: number;
}

export function preferenceSummary(input: PreferenceSummaryInput): PreferenceSummary {
  const { testIds, votes } = input;
  const total = testIds.length;
  let wins = 0;
  let ties = 0;
  let losses = 0;
  for (const qid of testIds) {
    const counts = tally(votes.get(qid) ?? new Map());
    if (counts.candidate > counts.reference) wins++;
    else if (counts.candidate < counts.reference) losses++;
    else ties++;
  }
  const percent = (part: number): number => (total === 0 ? 0 : (100 * part) / total);
  const rounds = Array.from({ length: input.rounds }, (_, round) => ({
    round,
    win_rate: percent(testIds.filter((qid) => votes.get(qid)?.get(round)?.winner === 'candidate').length),
  }));
  return {
    kind: 'preference',
    complete: input.complete,
    protocol: input.protocol,
    test_set: input.testSet,
    reference: input.reference,
    candidate: input.candidate,
    judge: input.judge,
    evaluate_times: input.rounds,
    total,
    wins,
    ties,
    losses,
    win_rate: percent(wins),
    tie_rate: percent(ties),
    std: populationStd(rounds.map((round) => round.win_rate)),
    missing: input.missing,
    errors: input.errors,
    rounds,
  };
}

export interface RecordedPreference {
  readonly votes: VoteTable;
  readonly order: readonly string[];
  readonly rounds: number;
}

/**
 * Reads an upstream preference JSON. It keeps vote counts and which rounds the judge decided, not
 * which round voted which way: the reference's votes are given to the first rounds, then the
 * candidate's. Totals, labels and the file itself come out exactly; per-round rates do not.
 */
export function readPreferenceJson(file: string, reference: string, candidate: string): RecordedPreference {
  const data = readJsonFile(file);
  if (!isPyObject(data)) throw inputError(file, '$', 'a preference result object keyed by query id', { got: describeJsonType(data) });
  const votes: VoteTable = new Map();
  let rounds = 0;
  for (const qid of orderedKeys(data)) {
    const record = data[qid];
    const at = JSON.stringify(qid);
    if (!isPyObject(record)) throw inputError(file, at, 'an object', { got: describeJsonType(record) });
    const refVotes = record[reference];
    const outVotes = record[candidate];
    if (typeof refVotes !== 'number') throw inputError(file, `${at}.${reference}`, `the vote count of --reference ${reference}`, { got: describeJsonType(refVotes) });
    if (typeof outVotes !== 'number') throw inputError(file, `${at}.${candidate}`, `the vote count of --candidate ${candidate}`, { got: describeJsonType(outVotes) });
    const flags = orderedKeys(record).filter((key) => /^round_\d+$/.test(key)).map((key) => ({ round: Number(key.slice(6)), complete: record[key] === 'complete' }));
    const count = Math.max(flags.length, refVotes + outVotes);
    rounds = Math.max(rounds, count);
    const table = new Map<number, RoundVote>();
    for (let round = 0; round < count; round++) {
      const winner = round < refVotes ? 'reference' : round < refVotes + outVotes ? 'candidate' : null;
      const complete = flags.find((flag) => flag.round === round)?.complete ?? false;
      table.set(round, { winner, via: complete ? 'judge' : winner === null ? 'missing' : 'pass-rate' });
    }
    votes.set(qid, table);
  }
  return { votes, order: [...orderedKeys(data)], rounds };
}
