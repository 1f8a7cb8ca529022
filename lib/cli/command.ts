/**
 * One `taylorseer <name>` subcommand, declared in one place: its options (with meaning and default), its
 * examples and its run function. The dispatcher (main.ts) parses the options strictly with node:util's
 * parseArgs and prints `--help` from the same declarations (help.ts), so a new command plugs in by adding
 * its module to ./commands/index.ts.
 */

/** One option: what parseArgs needs, plus what --help shows. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** what the option means, one line (shown by --help) */
  description: string;
  /** placeholder for the value in --help, e.g. 'DIR', 'N', 'a,b,...' (string options; default 'VALUE') */
  value?: string;
  /** the default parseArgs fills in when the option is absent (shown by --help) */
  default?: string;
  /** shown by --help as the default when it is computed rather than fixed (e.g. "the bundled model") */
  defaultText?: string;
  short?: string;
  /** the option may be given several times (its value is then a list) */
  multiple?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Command {
  name: string;
  /** one line: what the command does (first line of its --help and its line in `taylorseer --help`) */
  summary: string;
  /** optional further paragraphs for --help */
  details?: string;
  options: OptionSpecs;
  /** full command lines a user can copy, shown by --help */
  examples: string[];
  /** what positional arguments stand for (e.g. 'MODEL'), shown in the usage line; commands without it take none */
  positionals?: string;
  /** returns the process exit code */
  run(values: OptionValues, positionals: string[]): Promise<number>;
}
