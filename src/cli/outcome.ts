/** What a command reports besides its output: results written but incomplete (exit code 3). */
export interface CommandOutcome {
  partial: boolean;
}
