// Types of scripts/cross-arm64.js for the tests that use it.
import type { SpawnSyncOptions, SpawnSyncReturns } from 'node:child_process';

export const TOOLS: { cc: string; cxx: string; strip: string; objdump: string; qemu: string };
export const SYSROOT: string;
export const NODE_PACKAGE: string;
export const CACHE_DIR: string;
export function missing(what: 'compile' | 'run'): string[];
export function isArm64Elf(file: string): boolean;
export function build(outDir: string): { ok: boolean; addon: string; lib: string; output: string };
export function node(cacheDir?: string): string;
export function runNode(nodeBin: string, args: string[], options?: SpawnSyncOptions): SpawnSyncReturns<string>;
