#!/usr/bin/env node
// Runs every test/**/*.test.ts on node's built-in test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [path-prefix ...]   e.g. test/random
// On a terminal the runner's `spec` reporter; elsewhere (CI, a file) scripts/compact-reporter.mjs, which ends
// with the same "# pass N" / "# fail N" lines as TAP. SCORESDE_TEST_REPORTER=tap (or spec) picks one.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'fixtures') out.push(...find(p));
    } else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const prefixes = process.argv.slice(2);
const files = find('test').filter((f) => prefixes.length === 0 || prefixes.some((p) => f.startsWith(p)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const compact = fileURLToPath(new URL('./compact-reporter.mjs', import.meta.url));
const reporter = process.env.SCORESDE_TEST_REPORTER ?? (process.stdout.isTTY ? 'spec' : compact);
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-reporter=${reporter}`, ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
