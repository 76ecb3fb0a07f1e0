import type { Command } from 'commander';
import type { Context } from '../context.js';

/** Runs a command's body with a Context; a returned number is the exit code. */
export type Act = <A extends unknown[]>(body: (ctx: Context, ...args: A) => Promise<number | void>) => (...args: unknown[]) => Promise<void>;

/** Adds a group of commands to the program. */
export type Register = (program: Command, act: Act) => void;
