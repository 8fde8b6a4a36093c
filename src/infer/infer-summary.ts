/** The one-line account of an `infer` run printed on stderr at the end (without `--json`). */
import type { InferSummary } from './run-infer.js';

export function formatSummary(summary: InferSummary, options: { out: string; maxCost?: number; failuresFile?: string }): string {
  const answered = `${summary.done} answered (${summary.win} pass, ${summary.give_up} give up)`;
  const others = [summary.skipped > 0 ? `${summary.skipped} already answered` : '', summary.failed > 0 ? `${summary.failed} failed` : '']
    .filter((part) => part !== '')
    .join(', ');
  const spent = `${plural(summary.llm_calls, 'LLM call', 'LLM calls')}, ${formatCount(summary.total_tokens)} tokens, ${formatCost(summary.cost)}`;
  const where = options.out === '-' ? '' : ` -> ${options.out}`;
  const lines = [`infer: ${answered}${others === '' ? '' : `, ${others}`}; ${spent}; ${formatDuration(summary.seconds)}${where}`];
  if (summary.stoppedBy === 'max-cost') lines.push(`stopped starting queries at --max-cost ${formatCost(options.maxCost ?? 0)}; run again with a higher cap to go on`);
  if (summary.stoppedBy === 'interrupted' || summary.stoppedBy === 'fatal') {
    if (summary.unfinished > 0) lines.push(`${plural(summary.unfinished, 'query', 'queries')} in progress ${summary.unfinished === 1 ? 'was' : 'were'} stopped and not written; run again to resume`);
  }
  if (summary.failed > 0 && options.failuresFile !== undefined) lines.push(`failures are listed in ${options.failuresFile}`);
  return lines.join('\n');
}

/** `$0.0123` below a dollar, `$12.34` above. */
export function formatCost(dollars: number): string {
  return `$${dollars < 1 ? dollars.toFixed(4) : dollars.toFixed(2)}`;
}

/** `950`, `12.3k`, `4.5M`. */
export function formatCount(count: number): string {
  if (count < 1000) return String(count);
  if (count < 1_000_000) return `${(count / 1000).toFixed(1)}k`;
  return `${(count / 1_000_000).toFixed(1)}M`;
}

/** `42s`, `3m12s`, `2h05m`. */
export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
