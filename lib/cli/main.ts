#!/usr/bin/env node
/**
 * The `taylorseer` command line. Each subcommand is a module in ./commands; this file only dispatches and
 * turns every failure into a one-line message and a non-zero exit (never a stack trace).
 */
import { parseArgs } from 'node:util';
import { TaylorSeerError } from '../errors';
import type { Command } from './command';
import { commands } from './commands';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: taylorseer <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'taylorseer <command> --help shows the options of a command.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options).map(([k, o]) => `  --${k}${o.type === 'string' ? ' <value>' : ''}`);
  return [`usage: ${c.usage}`, '', c.summary, '', 'options:', ...opts, '  --help'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 1;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`taylorseer: unknown command '${name}' (expected one of: ${commands.map((c) => c.name).join(', ')})\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, strict: true, allowPositionals: false });
  } catch (e) {
    // parseArgs messages are one line, e.g. "Unknown option '--foo'"
    process.stderr.write(`taylorseer ${name}: ${(e as Error).message.split('\n')[0]} (see taylorseer ${name} --help)\n`);
    return 2;
  }
  try {
    return await command.run(parsed.values, parsed.positionals);
  } catch (e) {
    if (e instanceof TaylorSeerError) {
      process.stderr.write(`taylorseer ${name}: ${e.message} [${e.code}]\n`);
      return e.code === 'ERR_INVALID_ARGUMENT' ? 2 : 1;
    }
    process.stderr.write(`taylorseer ${name}: unexpected failure: ${(e as Error)?.message ?? String(e)}\n`);
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
      process.stderr.write(`taylorseer: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
