/**
 * The live progress line of `infer` on a terminal (stderr): queries done of the total, pass,
 * give-up and failure counts, LLM calls, tokens, cost and the time left, fitted to the terminal's
 * width. Messages printed meanwhile go above the line through `log`. Used only on a TTY and
 * without `--json`.
 */
import cliProgress from 'cli-progress';
import type { InferEvent } from './infer-events.js';
import { formatCost, formatCount, formatDuration } from './infer-summary.js';

export interface ProgressBar {
  readonly onEvent: (event: InferEvent) => void;
  /** A message line shown above the bar. */
  log(text: string): void;
  stop(): void;
}

export interface ProgressCounts {
  /** Queries finished in this run (answered or failed). */
  readonly finished: number;
  /** What is left to do, resumed queries excluded; undefined when unknown (standard input). */
  readonly total: number | undefined;
  readonly win: number;
  readonly giveUp: number;
  readonly failed: number;
  readonly skipped: number;
  readonly llmCalls: number;
  readonly tokens: number;
  readonly cost: number;
}

const BAR_SIZE = 20;

/** `total`: the queries the run will look at, resumed ones included; undefined when unknown. */
export function startProgressBar(stream: NodeJS.WritableStream, total: number | undefined): ProgressBar {
  const counts = { finished: 0, total, win: 0, giveUp: 0, failed: 0, skipped: 0, llmCalls: 0, tokens: 0, cost: 0 };
  const multi = new cliProgress.MultiBar({
    stream,
    format: (options, params) => {
      const eta = counts.total === undefined || counts.finished === 0 || !Number.isFinite(params.eta) ? undefined : params.eta;
      const bar = cliProgress.Format.BarFormat(params.progress, options);
      return formatProgressLine(counts, { width: params.maxWidth, bar, etaSeconds: eta });
    },
    barsize: BAR_SIZE,
    hideCursor: true,
    gracefulExit: false,
    etaBuffer: 20,
    etaAsynchronousUpdate: true,
  });
  // resumed queries leave the total rather than fill the bar, so the ETA measures real work
  const bar = multi.create(total ?? 0, 0);
  const redraw = (): void => bar.update(counts.finished);

  return {
    onEvent(event) {
      switch (event.event) {
        case 'llm':
          counts.llmCalls++;
          counts.tokens += event.total_tokens;
          counts.cost += event.cost;
          break;
        case 'query_end':
          if (event.skipped === true) {
            counts.skipped++;
            if (counts.total !== undefined) bar.setTotal(--counts.total);
            break;
          }
          counts.finished++;
          if (event.win === true) counts.win++;
          if (event.finish_type === 'give_up') counts.giveUp++;
          break;
        case 'query_error':
          counts.finished++;
          counts.failed++;
          break;
        default:
          return;
      }
      redraw();
    },
    log: (text) => multi.log(text.endsWith('\n') ? text : `${text}\n`),
    stop() {
      if (!multi.isActive) return;
      multi.update(); // messages logged since the last redraw (a Ctrl-C warning) would be lost
      multi.stop();
    },
  };
}

/**
 * `[bar] 12/200 | pass 8 give-up 3 failed 1 | 143 calls 1.2M tok $0.42 | ETA 3m12s`; zero counts
 * other than pass are left out, and the bar, then the ETA, when the line would not fit.
 */
export function formatProgressLine(counts: ProgressCounts, view: { width: number; bar: string; etaSeconds?: number }): string {
  const done = counts.total === undefined ? `${counts.finished} queries` : `${counts.finished}/${counts.total}`;
  const outcomes = [`pass ${counts.win}`];
  if (counts.giveUp > 0) outcomes.push(`give-up ${counts.giveUp}`);
  if (counts.failed > 0) outcomes.push(`failed ${counts.failed}`);
  if (counts.skipped > 0) outcomes.push(`resumed ${counts.skipped}`);
  const spent = `${counts.llmCalls} calls ${formatCount(counts.tokens)} tok ${formatCost(counts.cost)}`;
  const eta = view.etaSeconds === undefined ? undefined : `ETA ${formatDuration(view.etaSeconds)}`;
  const candidates = [
    [counts.total === undefined ? undefined : view.bar, done, outcomes.join(' '), spent, eta],
    [undefined, done, outcomes.join(' '), spent, eta],
    [undefined, done, outcomes.join(' '), spent, undefined],
  ].map((parts) => parts.filter((part): part is string => part !== undefined));
  const lines = candidates.map((parts) => (parts[0] === view.bar && parts.length > 1 ? `${parts[0]} ${parts.slice(1).join(' | ')}` : parts.join(' | ')));
  return lines.find((line) => line.length <= view.width - 1) ?? (lines.at(-1) as string);
}
