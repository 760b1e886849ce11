/**
 * A command's flags as one table: node's parseArgs reads its options from it, `--help` prints it, and a
 * library error that names an option (OptionError) names the flag instead.
 */
import type { ParseArgsConfig } from 'node:util';

/** node's parseArgs options. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Flag {
  /** The long name, without `--`. */
  name: string;
  short?: string;
  /** The value's placeholder (`<n>`); a flag without one is a boolean switch. */
  value?: string;
  /** One paragraph, wrapped to 80 columns under the flag. */
  help: string;
  /** Positional arguments the switch takes (`<f.json>...`): shown after its name; it stays a boolean. */
  rest?: string;
  /** Lines printed as they are below the help (a list of choices). */
  after?: string;
  /** The library option this flag sets, where it sets one (a camelCase name). */
  option?: string;
  /** Flags documented on the same line (`--a <png>, --b <png>`), sharing its help. */
  also?: readonly Omit<Flag, 'help' | 'after' | 'also'>[];
}

export interface FlagSection {
  /** The section's heading, e.g. 'Output:' (none: the flags follow the text above them). */
  title?: string;
  flags: readonly Flag[];
}

/** Column where help text starts, and the line width. */
const HELP_COLUMN = 27;
const WIDTH = 80;

/**
 * Words of `text` wrapped to `width` columns: the first line after `first`, the others after `indent`; a
 * newline in `text` starts a new line (to keep a phrase such as a call on a line of its own).
 */
export function wrapWords(text: string, first: string, indent: string, width = WIDTH): string {
  const lines: string[] = [];
  let line = first;
  for (const [i, part] of text.split('\n').entries()) {
    if (i > 0) {
      lines.push(line);
      line = indent;
    }
    let empty = true;
    for (const word of part.split(' ')) {
      // `first` may hold a label on a line of its own: measure the line being filled.
      const column = line.length - (line.lastIndexOf('\n') + 1);
      if (!empty && column + 1 + word.length > width) {
        lines.push(line);
        line = indent;
        empty = true;
      }
      line += empty ? word : ` ${word}`;
      empty = false;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

/** One flag's help: `  -o, --out <dir>          output folder …`, wrapped. */
function flagLine(f: Flag): string {
  const names = [f, ...(f.also ?? [])].map((x) =>
    [`--${x.name}`, x.value ?? x.rest].filter(Boolean).join(' '),
  );
  const label = `${f.short ? `  -${f.short}, ` : '      '}${names.join(', ')}`;
  const indent = ' '.repeat(HELP_COLUMN);
  // A label that reaches into the help column pushes the text right by two spaces, or a long one onto the next line.
  const first =
    label.length < HELP_COLUMN
      ? label.padEnd(HELP_COLUMN)
      : label.length <= HELP_COLUMN + 4
        ? `${label}  `
        : `${label}\n${indent}`;
  const body = wrapWords(f.help, first, indent);
  return f.after ? `${body}\n${f.after}` : body;
}

/** The help text of `sections`. */
export function flagHelp(sections: readonly FlagSection[]): string {
  return sections
    .map((s) => [...(s.title ? [s.title] : []), ...s.flags.map(flagLine)].join('\n'))
    .join('\n\n');
}

/** Every flag of `sections`, those sharing a line included. */
const allFlags = (sections: readonly FlagSection[]) =>
  sections.flatMap((s) => s.flags).flatMap((f) => [f, ...(f.also ?? [])]);

/** node's parseArgs options of `sections`. */
export function flagOptions(sections: readonly FlagSection[]): OptionSpec {
  const spec: OptionSpec = {};
  for (const f of allFlags(sections))
    spec[f.name] = { type: f.value ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) };
  return spec;
}

/** Library option → its flag (`emaDecay` → `--ema`); an option without a flag keeps its name. */
export function flagNamer(sections: readonly FlagSection[]): (option: string) => string {
  const flags = new Map(
    allFlags(sections).flatMap((f) => (f.option ? [[f.option, `--${f.name}`] as const] : [])),
  );
  return (option) => flags.get(option) ?? option;
}
