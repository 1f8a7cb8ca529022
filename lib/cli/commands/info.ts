import { cLibrary, cLibraryBuildCommand, info } from '../../info';
import type { Command } from '../command';

function formatBytes(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

export const infoCommand: Command = {
  name: 'info',
  summary: 'what was built and what is usable here (CPU threads and vectors, CUDA device)',
  options: {
    json: { type: 'boolean', description: 'print the facts as one JSON object' },
    lib: { type: 'boolean', description: 'print only the path of libtaylorseer, the C library (for build scripts)' },
  },
  examples: ['taylorseer info', 'TAYLORSEER_THREADS=2 taylorseer info --json', 'taylorseer info --lib'],
  async run(values) {
    if (values.lib) {
      // Only the path, for build scripts: cc app.c -L"$(dirname "$(taylorseer info --lib)")" -ltaylorseer
      const lib = cLibrary();
      if (!lib.path) {
        process.stderr.write(
          `libtaylorseer is not in this install (the prebuilt package carries the Node addon alone); build it once with cmake and a C++17 compiler (nvcc on the PATH adds the CUDA kernels): ${cLibraryBuildCommand()}\n`,
        );
        return 1;
      }
      process.stdout.write(`${lib.path}\n`);
      return 0;
    }
    const i = info();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(i, null, 2)}\n`);
      return i.build ? 0 : 1;
    }
    const lines = [`taylorseer ${i.version} (node ${i.node}, ${i.platform})`];
    if (!i.build || !i.cpu) {
      lines.push(`native addon: not loaded: ${i.addonError}`);
    } else {
      const origin = i.build.prebuilt ? 'prebuilt' : 'built from source on this machine';
      lines.push(`native addon: ${i.build.file} (${origin}; ${i.build.system}, ${i.build.compiler}, Node-API ${i.build.napiVersion})`);
      lines.push(`cpu: ${i.cpu.threads} threads, ${i.cpu.vector} kernels`);
    }
    lines.push(`cuda compiled in: ${i.cuda.compiled ? `yes (runtime ${i.cuda.runtimeVersion})` : 'no'}`);
    if (i.cuda.usable) {
      for (const d of i.cuda.devices)
        lines.push(`cuda device ${d.index}: ${d.name}, ${formatBytes(d.totalMemory)}, sm_${d.computeCapability.replace('.', '')}, ${d.multiprocessors} SMs`);
    } else {
      lines.push(`cuda device: not usable (${i.cuda.reason})`);
    }
    lines.push(`c library: ${i.library.path ?? `not in this install (to build it: ${cLibraryBuildCommand()})`} (header ${i.library.include}/taylorseer.h)`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return i.build ? 0 : 1;
  },
};
