import type { Command } from '../command';
import { benchCommand } from './bench';
import { calibrateCommand } from './calibrate';
import { demoCommand } from './demo';
import { evalCommand } from './eval';
import { infoCommand } from './info';
import { inspectCommand } from './inspect';
import { planCommand } from './plan';
import { presetsCommand } from './presets';
import { sweepCommand } from './sweep';

/** Every subcommand, in the order `taylorseer --help` lists them. */
export const commands: Command[] = [demoCommand, evalCommand, sweepCommand, calibrateCommand, inspectCommand, benchCommand, presetsCommand, planCommand, infoCommand];
