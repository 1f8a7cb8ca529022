/** `--help` text and parseArgs configuration, both derived from a command's option declarations. */
import type { ParseArgsConfig } from 'node:util';
import type { Command, OptionSpecs } from './command';

/** The options as node:util's parseArgs takes them (the help-only fields left out). */
export function parseArgsOptions(options: OptionSpecs): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, o] of Object.entries(options)) {
    out[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}), ...(o.default !== undefined ? { default: o.default } : {}) };
  }
  return out;
}

function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}

/** `taylorseer <command> --help`: summary, usage, every option with its meaning and default, examples. */
export function commandHelp(c: Command): string {
  const flags = Object.entries(c.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const dflt = o.defaultText ?? o.default;
    return { flag, text: dflt === undefined ? o.description : `${o.description} (default: ${dflt})` };
  });
  flags.push({ flag: '-h, --help', text: 'show this help' });
  const width = Math.min(30, Math.max(...flags.map((f) => f.flag.length)));
  const indent = ' '.repeat(width + 4);
  const options = flags.map((f) => {
    const head = `  ${f.flag.padEnd(width)}  `;
    const body = wrap(f.text, 100 - indent.length, indent);
    return f.flag.length > width ? `  ${f.flag}\n${indent}${body.join('\n')}` : head + body.join('\n');
  });
  return [
    `taylorseer ${c.name}: ${c.summary}`,
    '',
    `usage: taylorseer ${c.name}${c.positionals ? ` ${c.positionals}` : ''} [options]`,
    ...(c.details ? ['', ...wrap(c.details, 100, '')] : []),
    '',
    'options:',
    ...options,
    '',
    'examples:',
    ...c.examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** `taylorseer --help`: the commands with their one-line summaries. */
export function mainHelp(commands: readonly Command[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `taylorseer ${version}: TaylorSeer feature forecasting for diffusion transformers`,
    '',
    'usage: taylorseer <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'taylorseer <command> --help shows the options of a command, their defaults and examples.',
    'taylorseer --version prints the version.',
  ].join('\n');
}
