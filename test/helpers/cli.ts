/** Runs the CLI in-process with captured output. */
import { Readable } from 'node:stream';
import { runCli } from '../../src/cli/run-cli.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `stdin`, when given, is what the command reads from standard input (`--queries -`). */
export async function runToolbench(args: readonly string[], env: Record<string, string> = {}, stdin?: string): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { NO_COLOR: '1', ...env },
    ...(stdin === undefined ? {} : { stdin: Readable.from([Buffer.from(stdin)]) }),
  } as Parameters<typeof runCli>[1]);
  return { code, stdout, stderr };
}
