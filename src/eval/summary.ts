/**
 * The summary files that `eval pass-rate` and `eval preference` write next to upstream's result
 * files (`<name>.summary.json`), and that `eval report` reads. Upstream prints its numbers and
 * keeps nothing; these files pin what a number came from (judge model, template hash, evaluation
 * runs, denominator, missing answers) so a table can be rebuilt without re-judging.
 *
 * Rates are percentages (0-100, as in the upstream README tables); `std` is the population
 * standard deviation of the per-run rates, as StableToolBench prints it.
 */

export const SUMMARY_SUFFIX = '.summary.json';

export type Protocol = 'toolbench' | 'stable';

export interface JudgeIdentity {
  /** The evaluator configuration name (`tooleval_gpt-3.5-turbo_default`). */
  readonly evaluator: string;
  /** The judge model asked, or `replay:<file>` when the verdicts were read back. */
  readonly model: string;
  /** sha256 of the evaluator's template.txt and config.yaml bytes. */
  readonly template_sha256: string;
  readonly config_sha256: string;
}

/** Verdict counts over every (query, evaluation run); missing answers count once per run. */
export interface VerdictCounts {
  readonly solved: number;
  readonly unsure: number;
  readonly unsolved: number;
  readonly missing: number;
  /** Runs the judge could not finish (after retries); they score as failures. */
  readonly errors: number;
}

export interface PassRateRun {
  readonly run: number;
  /** Score of this run over the whole test-id list, in percent. */
  readonly rate: number;
  readonly counts: VerdictCounts;
}

export interface PassRateSummary {
  readonly kind: 'pass-rate';
  /** False when the run was interrupted or stopped: runs never judged count as errors. */
  readonly complete: boolean;
  readonly protocol: Protocol;
  readonly test_set: string;
  readonly model: string;
  readonly judge: JudgeIdentity;
  readonly evaluate_times: number;
  /** Size of the test-id list: the denominator of every rate here. */
  readonly total: number;
  /** Test ids with a converted answer. */
  readonly answered: number;
  readonly missing_ids: readonly string[];
  /**
   * The headline number, in percent over `total`. toolbench: queries whose runs passed at least
   * as often as they failed (upstream's printed rule; a run without a verdict counts as failed).
   * stable: mean of the per-run scores (Solved 1, Unsure 0.5), i.e. SoPR.
   */
  readonly rate: number;
  /**
   * Population standard deviation of `runs[*].rate`. For stable it is the spread of the
   * headline's terms; for toolbench, the spread of single-run pass rates around their mean
   * (the headline is a majority over runs, not that mean).
   */
  readonly std: number;
  /** The same headline computed over answered queries only, as upstream prints it. */
  readonly rate_answered_only: number;
  readonly counts: VerdictCounts;
  readonly runs: readonly PassRateRun[];
}

export interface PreferenceRound {
  readonly round: number;
  /** Share of test ids where this round's vote went to the candidate, in percent. */
  readonly win_rate: number;
}

export interface PreferenceSummary {
  readonly kind: 'preference';
  /** False when the run was interrupted or stopped: rounds never decided count as ties. */
  readonly complete: boolean;
  readonly protocol: Protocol;
  readonly test_set: string;
  readonly reference: string;
  readonly candidate: string;
  readonly judge: JudgeIdentity;
  readonly evaluate_times: number;
  readonly total: number;
  /** Queries won by the candidate (more votes than the reference), tied, and lost. */
  readonly wins: number;
  readonly ties: number;
  readonly losses: number;
  /** wins / total and ties / total, in percent; ties are never counted as half wins. */
  readonly win_rate: number;
  readonly tie_rate: number;
  /** Population standard deviation of `rounds[*].win_rate`. */
  readonly std: number;
  readonly missing: { readonly reference: readonly string[]; readonly candidate: readonly string[] };
  readonly errors: number;
  readonly rounds: readonly PreferenceRound[];
}

export type EvalSummary = PassRateSummary | PreferenceSummary;

export function mean(values: readonly number[]): number {
  if (values.length === 0) return 0;
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Population standard deviation (numpy's default, ddof 0), as StableToolBench reports. */
export function populationStd(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const average = mean(values);
  return Math.sqrt(mean(values.map((value) => (value - average) ** 2)));
}
