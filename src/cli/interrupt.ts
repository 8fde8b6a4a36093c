/** Ctrl-C for commands that stop their work and then report: the first signal aborts, a second quits at once. */
import { setMaxListeners } from 'node:events';
import { ToolbenchError } from '../util/errors.js';
import type { Reporter } from './io.js';
import type { StopSignals } from './serve-tools.js';

export interface Interrupt {
  readonly signal: AbortSignal;
  /** Stops listening (the command is over). */
  stop(): void;
}

/** `what` says what happens on the first signal, e.g. "everything judged so far is written". */
export function listenForInterrupt(signals: StopSignals, reporter: Reporter, what: string, options: { listeners?: number; resume?: boolean } = {}): Interrupt {
  const controller = new AbortController();
  if (options.listeners !== undefined) setMaxListeners(options.listeners, controller.signal);
  const unlisten = signals.listen((signal) => {
    reporter.warn(`${signal}: stopping; ${what} (again to quit at once)`);
    const hint = options.resume ? ': run the same command again to resume' : '';
    controller.abort(new ToolbenchError('interrupted', 130, `interrupted (${signal})${hint}`));
    unlisten();
  });
  return { signal: controller.signal, stop: unlisten };
}
