/** Shared by the CLI tests: a command line run in this process, and a stream that keeps what is written. */
import { runCli } from '../../src/cli/run.js';

/** What a command line gave: its exit code and everything written to stdout and stderr. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command line in this process; `onStdout` sees each chunk written to stdout. */
export async function runInProcess(
  argv: string[],
  options: { onStdout?: (s: string) => void; signal?: AbortSignal } = {},
): Promise<CliResult> {
  const r: CliResult = { code: -1, stdout: '', stderr: '' };
  r.code = await runCli(argv, {
    stdout: {
      write: (s: string) => {
        r.stdout += s;
        options.onStdout?.(s);
      },
    },
    stderr: { write: (s: string) => (r.stderr += s) },
    signal: options.signal,
  });
  return r;
}

/** A terminal (or not) of `columns` that keeps each write. */
export class FakeStream {
  chunks: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns?: number,
  ) {}
  write(s: string) {
    this.chunks.push(s);
    return true;
  }
}
