/**
 * A row of ToolEval's leaderboard (`eval_and_update_leaderboard.py`, formats.md §7): per test set
 * and over all queries, the win rate (mean of per-query preferences, 1 = the method won) and its
 * standard error (population std / sqrt(n)).
 */
import { mean, populationStd } from './summary.js';

export interface LeaderboardSubset {
  readonly name: string;
  /** One preference per query: 1 the method is preferred, 0 the reference. */
  readonly preferences: readonly number[];
}

export interface LeaderboardRow {
  readonly method: string;
  readonly winRate: number;
  readonly stdError: number;
  readonly subsets: readonly { readonly name: string; readonly winRate: number; readonly stdError: number }[];
}

export function leaderboardRow(method: string, subsets: readonly LeaderboardSubset[]): LeaderboardRow {
  const all = subsets.flatMap((subset) => subset.preferences);
  return { method, ...rate(all), subsets: subsets.map((subset) => ({ name: subset.name, ...rate(subset.preferences) })) };
}

function rate(preferences: readonly number[]): { winRate: number; stdError: number } {
  if (preferences.length === 0) return { winRate: 0, stdError: 0 };
  return { winRate: mean(preferences), stdError: populationStd(preferences) / Math.sqrt(preferences.length) };
}

/** The CSV header upstream writes: Method, WinRate, StdError, then every subset's rates, then its errors. */
export function leaderboardHeader(subsets: readonly string[]): string {
  return ['Method', 'WinRate', 'StdError', ...subsets.map((name) => `${name}_WinRate`), ...subsets.map((name) => `${name}_StdError`)].join(',');
}

