/** The machine a run happened on, for the results header. */
import os from 'node:os';

export interface MachineInfo {
  readonly os: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly node: string;
  readonly date: string;
  readonly tmpdir: string;
  /** 1-minute load average when the run started: anything else running skews the figures */
  readonly loadAverage: number;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    date: new Date().toISOString(),
    tmpdir: os.tmpdir(),
    loadAverage: os.loadavg()[0]!,
  };
}
