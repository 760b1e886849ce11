/** Each command's --help lists exactly the flags its parser accepts: both come from one flag table. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OptionSpec } from '../../src/cli/args.js';
import { COLORIZE_HELP, COLORIZE_OPTIONS, INPAINT_HELP, INPAINT_OPTIONS } from '../../src/cli/edit.js';
import { EVALUATE_HELP, EVALUATE_OPTIONS } from '../../src/cli/evaluate.js';
import { wrapWords } from '../../src/cli/flags.js';
import { INFO_HELP, INFO_OPTIONS } from '../../src/cli/info.js';
import { INTERPOLATE_HELP, INTERPOLATE_OPTIONS } from '../../src/cli/interpolate.js';
import { LIKELIHOOD_HELP, LIKELIHOOD_OPTIONS } from '../../src/cli/likelihood.js';
import { SAMPLE_HELP, SAMPLE_OPTIONS } from '../../src/cli/sample.js';
import { TRAIN_HELP, TRAIN_OPTIONS } from '../../src/cli/train.js';
import { SAMPLER_OPTION_TABLE } from '../../src/samplers/index.js';

/**
 * The flags a help text documents, as parseArgs options: `  -o, --out <dir>   text` and
 * `      --rtol <x>, --atol <x>  text` lines; a flag's label ends at two spaces (or the line's end).
 */
function documentedFlags(help: string): OptionSpec {
  const spec: OptionSpec = {};
  for (const line of help.split('\n')) {
    const m = /^ {2}(?:-(\w), | {4})(--.*)$/.exec(line);
    if (!m) continue;
    const label = m[2].split(/ {2}/)[0];
    const names = [...label.matchAll(/--([\w-]+)( <)?/g)];
    names.forEach(([, name, value], i) => {
      spec[name] = {
        type: value ? 'string' : 'boolean',
        ...(i === 0 && m[1] ? { short: m[1] } : {}),
      };
    });
  }
  return spec;
}

/** `spec` with its keys sorted, for comparison. */
const sorted = (spec: OptionSpec) =>
  Object.fromEntries(Object.entries(spec).sort(([a], [b]) => a.localeCompare(b)));

describe('command help', () => {
  const exact: [string, string, OptionSpec][] = [
    ['sample', SAMPLE_HELP, SAMPLE_OPTIONS],
    ['likelihood', LIKELIHOOD_HELP, LIKELIHOOD_OPTIONS],
    ['evaluate', EVALUATE_HELP, EVALUATE_OPTIONS],
    ['info', INFO_HELP, INFO_OPTIONS],
    ['train', TRAIN_HELP, TRAIN_OPTIONS],
    ['interpolate', INTERPOLATE_HELP, INTERPOLATE_OPTIONS],
  ];
  for (const [command, help, options] of exact) {
    it(`${command}: lists every flag its parser accepts, and nothing else`, () => {
      const documented = documentedFlags(help);
      // --merge's files are positionals: the help shows them, the parser takes a switch.
      if (documented.merge) documented.merge = { type: 'boolean' };
      assert.deepEqual(sorted(documented), sorted(options));
    });
  }

  it("inpaint, colorize: list their flags; other samplers' flags are accepted only to be refused by name", () => {
    const pcOnly = new Set(
      Object.values(SAMPLER_OPTION_TABLE).flatMap((info) =>
        info.cli && !info.samplers.includes('pc') ? [info.cli.flag] : [],
      ),
    );
    assert.ok(pcOnly.has('rho') && pcOnly.has('rtol'));
    for (const [help, options] of [
      [INPAINT_HELP, INPAINT_OPTIONS],
      [COLORIZE_HELP, COLORIZE_OPTIONS],
    ] as const) {
      const accepted = Object.fromEntries(Object.entries(options).filter(([name]) => !pcOnly.has(name)));
      assert.deepEqual(sorted(documentedFlags(help)), sorted(accepted));
    }
  });

  it('shows the samplers table defaults', () => {
    assert.match(
      SAMPLE_HELP,
      /--steps <n> .*\n.*\(default pc 2000, heun 50,\n +dpmpp-2m 50; at most 100000\)/,
    );
    assert.match(SAMPLE_HELP, /--churn <x> .*\(0: deterministic\)\n +\(default 0\)\n/);
    assert.match(EVALUATE_HELP, /\(default pc 2000, heun 50,\n +dpmpp-2m 50\)/);
  });
});

describe('wrapWords', () => {
  it('fills the line being written: a label on a line of its own does not shorten the text after it', () => {
    const label = `      --a-very-long-flag-name <σ|off>\n${' '.repeat(27)}`;
    const text = 'one two three four five six seven eight nine ten eleven twelve thirteen';
    const lines = wrapWords(text, label, ' '.repeat(27), 60).split('\n');
    assert.equal(lines[0], '      --a-very-long-flag-name <σ|off>');
    assert.equal(lines[1], `${' '.repeat(27)}one two three four five six seven`);
    for (const line of lines) assert.ok(line.length <= 60, line);
  });
});
