#!/usr/bin/env node
// Runs every test/**/*.test.ts on node's built-in test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [path-prefix ...]   e.g. test/random
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
