/**
 * How busy this machine's CPUs were while the bench measured: from `/proc/stat` (Linux) before and after a window.
 * Other engineers' tests share the 2 cores, so timing figures carry this with them.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** CPU time counters of all cores, in clock ticks. */
interface CpuTicks {
  readonly busy: number;
  readonly total: number;
}

function readTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
    const total = values.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** What the machine was doing during a measurement window. */
export interface MachineLoad {
  readonly cores: number;
  /** Average number of busy cores over the window (0…cores), every process included (the bench's own too). */
  readonly busyCores: number | null;
  /** 1-minute load average at the window's end. */
  readonly loadAverage1m: number;
}

/**
 * Starts a window.
 * @returns A function that ends it and returns the load of the window.
 */
export function measureLoad(): () => MachineLoad {
  const before = readTicks();
  return () => {
    const after = readTicks();
    const cores = os.cpus().length;
    const busyCores =
      before && after && after.total > before.total
        ? Math.round(((after.busy - before.busy) / (after.total - before.total)) * cores * 100) / 100
        : null;
    return { cores, busyCores, loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 };
  };
}
