/** scripts/compact-reporter.mjs on a recorded event stream: per-file counts, failures in full, TAP's closing counts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// @ts-expect-error: a plain .mjs script without types
import compactReporter from '../../scripts/compact-reporter.mjs';

async function render(events: { type: string; data: Record<string, unknown> }[]): Promise<string> {
  async function* source() {
    yield* events;
  }
  let out = '';
  for await (const chunk of compactReporter(source())) out += chunk;
  return out;
}

describe('compact test reporter', () => {
  it("prints failures in full, output tests printed, one line per file and the runner's counts", async () => {
    const file = `${process.cwd()}/test/x/a.test.ts`;
    const out = await render([
      { type: 'test:pass', data: { name: 'one', nesting: 1, file, details: { type: 'test' } } },
      { type: 'test:stderr', data: { file, message: 'a stray line\n' } },
      {
        type: 'test:fail',
        data: { name: 'two', nesting: 1, file, line: 7, details: { type: 'test', error: new Error('boom') } },
      },
      { type: 'test:fail', data: { name: 'suite', nesting: 0, file, details: { type: 'suite' } } },
      { type: 'test:diagnostic', data: { nesting: 0, message: 'tests 2' } },
      { type: 'test:diagnostic', data: { nesting: 0, message: 'pass 1' } },
      { type: 'test:diagnostic', data: { nesting: 0, message: 'fail 1' } },
    ]);
    const lines = out.split('\n');
    assert.equal(lines[0], '[test/x/a.test.ts] a stray line');
    assert.equal(lines[1], '✖ two (test/x/a.test.ts:7)');
    assert.match(lines[2], /^ {4}Error: boom$/);
    assert.ok(!out.includes('✖ suite'), 'a suite is not a failure of its own');
    const tail = lines.slice(lines.indexOf('✖ test/x/a.test.ts: 1 passed, 1 failed'));
    assert.deepEqual(tail, [
      '✖ test/x/a.test.ts: 1 passed, 1 failed',
      '# tests 2',
      '# pass 1',
      '# fail 1',
      '',
      'Failed:',
      '  ✖ two (test/x/a.test.ts:7)',
      '',
    ]);
  });
});
