/**
 * The command line as a new user meets it, without a model run: `--help` of every command gives a one-line
 * summary, every option with its meaning and default, and examples; `--version`; environment variables are
 * checked with a message that says what they must be.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands } from '../lib/cli/commands';
import { commandHelp } from '../lib/cli/help';
import { TaylorSeerError } from '../lib/errors';
import { checkAddonEnvironment } from '../lib/native';
import { cli } from './helpers/cli-run';

describe('--help', () => {
  it.each(commands.map((c) => [c.name, c] as const))('%s: summary, every option with its meaning and default, examples', async (name, c) => {
    const { code, stdout } = await cli([name, '--help']);
    expect(code).toBe(0);
    expect(stdout).toBe(`${commandHelp(c)}\n`);
    expect(stdout.split('\n')[0]).toBe(`taylorseer ${name}: ${c.summary}`);
    expect(c.summary).not.toContain('\n');
    for (const [opt, spec] of Object.entries(c.options)) {
      expect(spec.description.trim().length, `${name} --${opt}`).toBeGreaterThan(10);
      expect(stdout).toContain(`--${opt}${spec.type === 'string' ? ' ' : ''}`);
      const dflt = spec.defaultText ?? spec.default;
      if (dflt !== undefined) expect(stdout.replace(/\s+/g, ' ')).toContain(`(default: ${dflt})`);
    }
    expect(c.examples.length).toBeGreaterThan(0);
    for (const e of c.examples) {
      expect(e.startsWith(`taylorseer ${name}`) || e.includes(` taylorseer ${name}`)).toBe(true);
      expect(stdout).toContain(e);
    }
    // every line fits a terminal
    for (const line of stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
  });

  it('the examples use only options their command declares', () => {
    for (const c of commands) {
      for (const e of c.examples) {
        for (const [, flag] of e.matchAll(/--([a-z][a-z-]*)/g)) expect(Object.keys(c.options), `${c.name}: ${e}`).toContain(flag);
      }
    }
  });

  it('taylorseer --help lists every command with its summary; no command is usage on stderr and exit 2 (a bad command line)', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    for (const c of commands) expect(stdout).toContain(c.summary);
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('usage: taylorseer <command>');
  });

  it('a flag given twice is refused unless it is repeatable; numbers are decimal; after -- even --help is a positional', async () => {
    const twice = await cli(['plan', '--preset', 'flux-dev', '--order', '1', '--order', '2']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^taylorseer plan: Option '--order' given more than once; give it once .*\[ERR_INVALID_ARGUMENT\]\n$/);
    const hex = await cli(['plan', '--preset', 'flux-dev', '--order', '0x1']);
    expect(hex.code).toBe(2);
    expect(hex.stderr).toMatch(/--order 0x1: expected a number in \[0, 4\]/);
    const dashed = await cli(['inspect', '--', '--help']);
    expect(dashed.stdout).not.toContain('usage:');
    expect(dashed.stderr).toMatch(/--help: does not exist \(expected an \.onnx file or a model directory\) \[ERR_MODEL\]/);
  });

  it('messages are one printable line: control characters in what they quote are escaped', async () => {
    const { code, stderr } = await cli(['demo\n\u001b[2J', '--x']);
    expect(code).toBe(2);
    expect(stderr).toBe(`taylorseer: unknown command 'demo\\n\\x1b[2J' (expected one of: ${commands.map((c) => c.name).join(', ')}; see taylorseer --help) [ERR_INVALID_ARGUMENT]\n`);
    const option = await cli(['info', '--a\rb\u009b']);
    expect(option.stderr).toMatch(/^taylorseer info: Unknown option '--a\\rb\\x9b'.* \[ERR_INVALID_ARGUMENT\]\n$/);
    expect(option.stderr.trimEnd()).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../package.json'), 'utf8'));
    for (const flag of ['--version', '-V']) {
      const { code, stdout } = await cli([flag]);
      expect(code).toBe(0);
      expect(stdout).toBe(`${pkg.version}\n`);
    }
  });
});

describe('environment variables', () => {
  const check = (env: NodeJS.ProcessEnv) => {
    try {
      checkAddonEnvironment(env);
    } catch (e) {
      expect(e).toBeInstanceOf(TaylorSeerError);
      return e as TaylorSeerError;
    }
    return undefined;
  };

  it.each(['abc', '0', '-2', '1.5', '257', '4x'])('TAYLORSEER_THREADS=%s is refused with what it must be', (v) => {
    const e = check({ TAYLORSEER_THREADS: v });
    expect(e?.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e?.message).toContain(`TAYLORSEER_THREADS=${v}: expected an integer from 1 to 256`);
  });

  it('TAYLORSEER_THREADS from 1 to 256 and an unset or empty variable are accepted', () => {
    for (const v of ['1', '8', '256', '', undefined]) expect(check({ TAYLORSEER_THREADS: v })).toBeUndefined();
  });

  it.each(['avx512', 'Generic', 'none', ' generic'])('TAYLORSEER_CPU_KERNELS=%s is refused with the choices', (v) => {
    const e = check({ TAYLORSEER_CPU_KERNELS: v });
    expect(e?.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e?.message).toContain(`TAYLORSEER_CPU_KERNELS=${v}: expected auto or generic`);
  });

  it('TAYLORSEER_CPU_KERNELS auto, generic and an unset or empty variable are accepted', () => {
    for (const v of ['auto', 'generic', '', undefined]) expect(check({ TAYLORSEER_CPU_KERNELS: v })).toBeUndefined();
  });

  it('TAYLORSEER_ADDON naming nothing says so, instead of "the addon is not built"', () => {
    const e = check({ TAYLORSEER_ADDON: '/nonexistent/taylorseer.node' });
    expect(e?.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e?.message).toMatch(/^TAYLORSEER_ADDON=\/nonexistent\/taylorseer\.node: ENOENT; it must name a taylorseer\.node file/);
    expect(check({ TAYLORSEER_ADDON: __dirname })?.message).toMatch(/not a file/);
  });

  it('the command line checks them before running a command: one line, non-zero exit', async () => {
    const saved = process.env.TAYLORSEER_THREADS;
    process.env.TAYLORSEER_THREADS = 'abc';
    try {
      const { code, stderr } = await cli(['info']);
      expect(code).toBe(2);
      expect(stderr).toMatch(/^taylorseer info: TAYLORSEER_THREADS=abc: expected an integer .* \[ERR_INVALID_ARGUMENT\]\n$/);
    } finally {
      if (saved === undefined) delete process.env.TAYLORSEER_THREADS;
      else process.env.TAYLORSEER_THREADS = saved;
    }
  });
});

