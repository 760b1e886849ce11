#!/usr/bin/env node
/** The `scoresde` executable: runs the command line with Ctrl-C wired to an AbortSignal. */
import { ProgressBar } from '../progress.js';
import { renderWarning } from './messages.js';
import { runCli } from './run.js';

// Warnings (unknown config keys, a missing scheduler config, …) as one readable line each;
// Node's default printer adds a pid and a --trace-warnings hint.
process.removeAllListeners('warning');
// Printed above a live progress bar, which is then redrawn.
process.on('warning', (w) => ProgressBar.write(`scoresde: warning: ${renderWarning(w)}`, process.stderr));

const controller = new AbortController();
process.on('SIGINT', () => {
  // First Ctrl-C: stop between UNet calls and let atomic writes clean up their temp files.
  // Second: leave at once.
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
