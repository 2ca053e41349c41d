/**
 * The fault matrix of the failover and drain state machines (harness/drills/faults.ts, issue 17 item 1): every Task
 * state under every fault class (AWS 5xx, throttling, timeout on each operation the state sends; Lambda timeout,
 * crash, at-least-once), the real ASL run locally with the real handlers against the shared moto and Trino doubles
 * of recorded Trino 476 responses. It asserts the invariants, not the outcomes: every case, no violation.
 */
import { describe, expect, it } from 'vitest';
import { runFaultMatrix } from '../../harness/drills/faults.ts';
import { awsConfig, resetAws } from '../helpers/components.ts';

describe('fault matrix of the failover and drain state machines', () => {
  it('holds every invariant in every case (ENI on one serving instance, fenced before a move, one mover, failures notified, lifecycle completed once, contract error names)', async () => {
    const result = await runFaultMatrix({
      moto: { clientConfig: awsConfig(), reset: resetAws },
      log: (line) => process.stderr.write(`${line}\n`),
    });
    expect(result.unreached).toEqual([]);
    // Every Task state of both machines, each under the AWS, Lambda and concurrency classes.
    expect(result.cases).toBeGreaterThan(100);
    expect(result.invariantsHeld).toBeGreaterThan(result.cases);
    expect(result.violations).toEqual([]);
  }, 1_800_000);
});
