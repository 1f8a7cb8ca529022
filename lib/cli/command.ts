import type { ParseArgsConfig } from 'node:util';

/** One `taylorseer <name>` subcommand. Options are parsed strictly by node:util's parseArgs. */
export interface Command {
  name: string;
  summary: string;
  /** usage line(s) shown by --help */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** returns the process exit code */
  run(values: Record<string, string | boolean | (string | boolean)[] | undefined>, positionals: string[]): Promise<number>;
}
