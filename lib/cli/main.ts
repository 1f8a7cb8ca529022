#!/usr/bin/env node
/**
 * The `taylorseer` command line. Each subcommand is a module in ./commands that declares its options once
 * (lib/cli/command.ts); this file only dispatches, prints help and the version, and turns every failure
 * into a one-line message and a non-zero exit (never a stack trace).
 */
import { parseArgs } from 'node:util';
import { TaylorSeerError } from '../errors';
import { ioError } from '../files';
import { packageVersion } from '../info';
import { checkAddonEnvironment } from '../native';
import { printable } from '../validate';
import { commands } from './commands';
import { commandHelp, mainHelp, parseArgsOptions } from './help';

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // no command at all is a bad command line: the help goes to stderr with exit status 2
    (name ? process.stdout : process.stderr).write(`${mainHelp(commands, packageVersion())}\n`);
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`taylorseer: unknown command '${printable(name)}' (expected one of: ${commands.map((c) => c.name).join(', ')}; see taylorseer --help) [ERR_INVALID_ARGUMENT]\n`);
    return 2;
  }
  // after "--" everything is a positional, "--help" too
  const flags = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (flags.includes('--help') || flags.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: parseArgsOptions(command.options), strict: true, allowPositionals: command.positionals !== undefined, tokens: true });
    // a flag given twice would silently take its last value: refused unless it is repeatable
    const seen = new Set<string>();
    for (const t of parsed.tokens ?? []) {
      if (t.kind !== 'option' || command.options[t.name]?.multiple) continue;
      if (seen.has(t.name)) throw new Error(`Option '--${t.name}' given more than once; give it once`);
      seen.add(t.name);
    }
  } catch (e) {
    // e.g. "Unknown option '--foo'", which quotes the argument as given
    process.stderr.write(`taylorseer ${name}: ${printable((e as Error).message)} (see taylorseer ${name} --help) [ERR_INVALID_ARGUMENT]\n`);
    return 2;
  }
  try {
    checkAddonEnvironment();
    return await command.run(parsed.values, parsed.positionals);
  } catch (e) {
    // A system error that escaped a command's own checks is still an I/O failure with a path: same form.
    const err = e instanceof TaylorSeerError ? e : (e as NodeJS.ErrnoException)?.syscall ? ioError(e, 'access', (e as NodeJS.ErrnoException).path ?? '?') : undefined;
    if (err) {
      process.stderr.write(`taylorseer ${name}: ${printable(err.message)} [${err.code}]\n`);
      return err.code === 'ERR_INVALID_ARGUMENT' ? 2 : 1;
    }
    process.stderr.write(`taylorseer ${name}: unexpected failure: ${printable((e as Error)?.message ?? String(e))}\n`);
    if (process.env.TAYLORSEER_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`taylorseer: ${printable((e as Error)?.message ?? String(e))}\n`);
      process.exitCode = 1;
    },
  );
}
