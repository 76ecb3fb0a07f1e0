/** What a section of the suite works with: the subject, the config, a scratch area and the report channel. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchConfig } from './config.js';
import type { OperationId, Row, Unit } from './rows.js';
import type { Subject } from './subject.js';

export interface SuiteContext {
  readonly subject: Subject;
  readonly config: BenchConfig;
  /** key names of the base workload */
  readonly names: readonly string[];
  /** a new empty directory under this subject's scratch area */
  freshDir(tag: string): Promise<string>;
  /** reports a figure (also printed) */
  emit(operation: OperationId, value: number, unit: Unit, notes: string, runs?: readonly number[]): Promise<void>;
  /** reports something that went wrong but does not stop the suite */
  problem(message: string): Promise<void>;
  log(message: string): void;
}

/** Formats a figure for the progress log. */
export function formatFigure(value: number, unit: Unit): string {
  if (unit === 'ms') return `${value.toFixed(value < 10 ? 3 : 1)} ms`;
  if (unit === 'µs') return `${value.toFixed(2)} µs`;
  if (unit === 's') return `${value.toFixed(1)} s`;
  if (unit === 'bytes') return `${(value / 1e6).toFixed(2)} MB`;
  if (unit === '% of a core') return `${value.toFixed(2)} % of a core`;
  if (unit === '%') return `${value > 0 ? '+' : ''}${value.toFixed(1)} %`;
  return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
}

/** Builds the context a suite child uses; rows go to `send`. */
export function createContext(
  subject: Subject,
  config: BenchConfig,
  names: readonly string[],
  scratch: string,
  send: (message: unknown) => Promise<void>,
): SuiteContext {
  let counter = 0;
  const log = (message: string): void => console.log(`[${subject.id}] ${message}`);
  return {
    subject,
    config,
    names,
    log,
    async freshDir(tag) {
      const dir = join(scratch, `${tag}-${counter++}`);
      await mkdir(dir, { recursive: true });
      return dir;
    },
    async emit(operation, value, unit, notes, runs) {
      const row: Row = runs === undefined ? { subject: subject.id, operation, value, unit, notes } : { subject: subject.id, operation, value, unit, notes, runs };
      log(`${operation}: ${formatFigure(value, unit)}${runs !== undefined && runs.length > 1 ? `  (runs: ${runs.map((r) => formatFigure(r, unit)).join(', ')})` : ''}`);
      await send({ type: 'row', row });
    },
    async problem(message) {
      console.error(`[${subject.id}] PROBLEM: ${message}`);
      await send({ type: 'problem', message: `${subject.label}: ${message}` });
    },
  };
}
