// A compact reporter for node's test runner, for logs (CI, a pipe to a file): one line per test file, each
// failure in full, what tests printed, and the runner's closing counts as the TAP reporter prints them
// ("# tests N", "# pass N", "# fail N", …), which CI reads. On a terminal scripts/run-tests.mjs keeps `spec`.
import { relative } from 'node:path';
import { inspect } from 'node:util';

const where = (data) => (data.file ? relative(process.cwd(), data.file) : '');

/** The error of a failed test, indented, with its stack trimmed of node's own frames. */
function describeError(error) {
  const cause = error?.cause ?? error;
  const text = cause instanceof Error ? (cause.stack ?? cause.message) : inspect(cause, { depth: 4 });
  return text
    .split('\n')
    .filter((l) => !/\(node:|at node:|at new Promise|at Array\.map/.test(l))
    .map((l) => `    ${l}`)
    .join('\n');
}

export default async function* compactReporter(source) {
  const failures = [];
  const perFile = new Map(); // file → [passed, failed]
  const counts = (file) => {
    if (!perFile.has(file)) perFile.set(file, [0, 0]);
    return perFile.get(file);
  };
  for await (const { type, data } of source) {
    if (type === 'test:pass' && data.details?.type !== 'suite') {
      if (!data.skip && !data.todo) counts(where(data))[0]++;
    } else if (type === 'test:fail' && data.details?.type !== 'suite') {
      counts(where(data))[1]++;
      const title = `✖ ${data.name} (${where(data)}:${data.line ?? '?'})`;
      failures.push(title);
      yield `${title}\n${describeError(data.details?.error)}\n`;
    } else if ((type === 'test:stdout' || type === 'test:stderr') && data.message.trim() !== '') {
      // Output a test printed (it should assert what it expects instead).
      yield `[${where(data)}] ${data.message.trimEnd()}\n`;
    } else if (type === 'test:diagnostic' && data.nesting === 0) {
      // The runner's closing counts (and any top-level diagnostic), as the TAP reporter prints them.
      for (const [file, [pass, fail]] of perFile)
        yield `${fail > 0 ? '✖' : '✔'} ${file}: ${pass} passed, ${fail} failed\n`;
      perFile.clear();
      yield `# ${data.message}\n`;
    }
  }
  if (failures.length > 0) yield `\nFailed:\n${failures.map((f) => `  ${f}`).join('\n')}\n`;
}
