/**
 * The detector across invocation boundaries (functions/coordinator-health/decide.ts): the stored state is
 * continued only while fresh, rounds are never closer than the probe interval, a scheduled invocation's rounds
 * leave no unprobed gap at the minute, and a pause shorter than what N failed probes span never confirms wherever
 * it falls — simulated over the real decisions, minute after minute.
 */
import { describe, expect, it } from 'vitest';
import {
  assessRound,
  type DetectorState,
  HEALTHY,
  needsSecondSignal,
  nextRoundAtMs,
  type ProbeResult,
  resumeState,
  roundSchedule,
  type StoredDetectorState,
} from '../../functions/coordinator-health/decide.ts';

const INTERVAL = 5_000;
const TIMEOUT = 2_000;
const policy = { failuresToConfirm: 3 };
const handover = { probeIntervalMs: INTERVAL, handoverJitterMs: 5_000 };
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);

describe('needsSecondSignal', () => {
  it.each([
    [0, false],
    [1, false],
    [2, true],
    [5, true],
  ])('after %i failures: %s', (consecutiveFailures, expected) => {
    expect(needsSecondSignal({ consecutiveFailures }, policy)).toBe(expected);
  });
});

describe('resumeState', () => {
  const run: StoredDetectorState = {
    consecutiveFailures: 2,
    firstFailureAtMs: T0 - 7_500,
    lastProbeAtMs: T0 - 2_500,
  };

  it('starts healthy at once when nothing is stored (or it could not be read)', () => {
    expect(resumeState(undefined, T0, handover)).toEqual({
      state: HEALTHY,
      firstRoundAtMs: T0,
      carried: 'NONE',
    });
  });

  it('continues a fresh run, its first round one interval after the stored last probe', () => {
    expect(resumeState(run, T0 + 200, handover)).toEqual({
      state: { consecutiveFailures: 2, firstFailureAtMs: T0 - 7_500 },
      firstRoundAtMs: T0 + 2_500,
      carried: 'FRESH',
    });
  });

  it('probes at once when the invocation starts later than one interval after the last probe (within the jitter)', () => {
    expect(resumeState(run, T0 + 4_000, handover)).toMatchObject({
      firstRoundAtMs: T0 + 4_000,
      carried: 'FRESH',
    });
  });

  it('keeps the phase but no failures of a fresh healthy state', () => {
    expect(resumeState({ consecutiveFailures: 0, lastProbeAtMs: T0 - 2_500 }, T0, handover)).toEqual({
      state: HEALTHY,
      firstRoundAtMs: T0 + 2_500,
      carried: 'FRESH',
    });
  });

  it('treats a run without its first failure time as healthy (never counts what it cannot date)', () => {
    expect(resumeState({ consecutiveFailures: 2, lastProbeAtMs: T0 - 2_500 }, T0, handover).state).toEqual(
      HEALTHY,
    );
  });

  it('discards a run whose last probe is older than one interval + jitter', () => {
    expect(resumeState(run, run.lastProbeAtMs + 10_001, handover)).toEqual({
      state: HEALTHY,
      firstRoundAtMs: run.lastProbeAtMs + 10_001,
      carried: 'STALE',
    });
    expect(resumeState(run, run.lastProbeAtMs + 10_000, handover).carried).toBe('FRESH');
  });

  it('discards a run whose last probe lies further in the future than the jitter (clocks apart)', () => {
    expect(resumeState(run, run.lastProbeAtMs - 5_001, handover).carried).toBe('STALE');
    expect(resumeState(run, run.lastProbeAtMs - 1_000, handover)).toMatchObject({
      carried: 'FRESH',
      firstRoundAtMs: run.lastProbeAtMs - 1_000 + INTERVAL,
    });
  });
});

describe('roundSchedule and nextRoundAtMs', () => {
  it('puts a scheduled invocation on the grid whose last round starts LOOP_DURATION_MS after the scheduled time', () => {
    const schedule = roundSchedule({
      scheduledAtMs: T0,
      startMs: T0 + 300,
      firstRoundAtMs: T0 + 300,
      loopDurationMs: 57_500,
      probeIntervalMs: INTERVAL,
    });
    expect(schedule).toEqual({ probeIntervalMs: INTERVAL, phaseMs: T0 + 57_500, lastRoundByMs: T0 + 57_500 });
    const rounds = [T0 + 300];
    for (
      let next = nextRoundAtMs(T0 + 300, schedule);
      next !== undefined;
      next = nextRoundAtMs(next, schedule)
    ) {
      rounds.push(next);
    }
    expect(rounds.map((t) => t - T0)).toEqual([
      300, 7_500, 12_500, 17_500, 22_500, 27_500, 32_500, 37_500, 42_500, 47_500, 52_500, 57_500,
    ]);
  });

  it('called directly, starts the grid at the first round and ends after the loop duration', () => {
    const schedule = roundSchedule({
      scheduledAtMs: undefined,
      startMs: T0,
      firstRoundAtMs: T0 + 100,
      loopDurationMs: 10_100,
      probeIntervalMs: INTERVAL,
    });
    expect(nextRoundAtMs(T0 + 100, schedule)).toBe(T0 + 5_100);
    expect(nextRoundAtMs(T0 + 5_100, schedule)).toBe(T0 + 10_100);
    expect(nextRoundAtMs(T0 + 10_100, schedule)).toBeUndefined();
  });

  it('never schedules a round less than one interval after the previous one, whatever the phase', () => {
    const schedule = { probeIntervalMs: INTERVAL, phaseMs: T0 + 57_500, lastRoundByMs: T0 + 120_000 };
    for (let previous = T0; previous < T0 + 60_000; previous += 137) {
      const next = nextRoundAtMs(previous, schedule);
      expect(next).toBeDefined();
      expect((next ?? 0) - previous).toBeGreaterThanOrEqual(INTERVAL);
      expect((next ?? 0) - previous).toBeLessThan(2 * INTERVAL);
      expect(Math.abs(((next ?? 0) - (T0 + 57_500)) % INTERVAL)).toBe(0);
    }
  });
});

/** A stop-the-world pause: a probe taken during it is answered when it ends, i.e. fails if that is past its timeout. */
interface Pause {
  readonly fromMs: number;
  readonly toMs: number;
}

function probeAt(atMs: number, pause: Pause | undefined): ProbeResult {
  return pause !== undefined && atMs >= pause.fromMs && pause.toMs > atMs + TIMEOUT ? 'FAILED' : 'OK';
}

interface Simulated {
  readonly confirmedAtMs: number | undefined;
  readonly rounds: number[];
  /** Failures in the run when each invocation started (after {@link resumeState}). */
  readonly carriedFailures: number[];
}

/**
 * Runs invocations minute after minute over the real decisions (store → resume → grid → assess → store), each
 * starting `startDelaysMs[m]` after its scheduled time; the primary-address probe follows a failed ENI probe.
 */
function simulate(pause: Pause | undefined, startDelaysMs: readonly number[], stored0?: StoredDetectorState) {
  let stored = stored0;
  const rounds: number[] = [];
  const carriedFailures: number[] = [];
  for (const [m, delay] of startDelaysMs.entries()) {
    const scheduledAtMs = T0 + m * 60_000;
    const startMs = scheduledAtMs + delay;
    const resumed = resumeState(stored, startMs, handover);
    carriedFailures.push(resumed.state.consecutiveFailures);
    const schedule = roundSchedule({
      scheduledAtMs,
      startMs,
      firstRoundAtMs: resumed.firstRoundAtMs,
      loopDurationMs: 60_000 - TIMEOUT - 500,
      probeIntervalMs: INTERVAL,
    });
    let state: DetectorState = resumed.state;
    let at: number | undefined = resumed.firstRoundAtMs;
    let last = at;
    while (at !== undefined) {
      rounds.push(at);
      last = at;
      const viaEni = probeAt(at, pause);
      const verdict = assessRound(
        state,
        {
          atMs: at,
          viaEni,
          ...(viaEni === 'FAILED' && needsSecondSignal(state, policy)
            ? { eni: 'ATTACHED' as const, viaPrimary: probeAt(at + TIMEOUT, pause) }
            : {}),
        },
        policy,
      );
      if (verdict.confirmedFailure) return { confirmedAtMs: at, rounds, carriedFailures };
      state = verdict.state;
      at = nextRoundAtMs(at, schedule);
    }
    // The last round ends (one probe timeout) before the next invocation is scheduled.
    expect(last + TIMEOUT).toBeLessThanOrEqual(scheduledAtMs + 60_000 - 500);
    stored = { ...state, lastProbeAtMs: last };
  }
  return { confirmedAtMs: undefined, rounds, carriedFailures } satisfies Simulated;
}

describe('the detector across invocations (simulated minute after minute)', () => {
  it('confirms with a run of 2 failures carried over and 1 failure in the new invocation (with the second signal)', () => {
    const stored: StoredDetectorState = {
      consecutiveFailures: 2,
      firstFailureAtMs: T0 - 7_500,
      lastProbeAtMs: T0 - 2_500,
    };
    const resumed = resumeState(stored, T0 + 300, handover);
    expect(resumed.carried).toBe('FRESH');
    const verdict = assessRound(
      resumed.state,
      { atMs: resumed.firstRoundAtMs, viaEni: 'FAILED', eni: 'ATTACHED', viaPrimary: 'FAILED' },
      policy,
    );
    expect(verdict).toMatchObject({
      confirmedFailure: true,
      secondSignal: 'PRIMARY_ADDRESS_FAILED',
      failingForMs: 10_000,
      state: { consecutiveFailures: 3 },
    });
  });

  it('does not confirm on the carried run without the second signal (unknown never confirms)', () => {
    const resumed = resumeState(
      { consecutiveFailures: 2, firstFailureAtMs: T0 - 7_500, lastProbeAtMs: T0 - 2_500 },
      T0 + 300,
      handover,
    );
    const verdict = assessRound(
      resumed.state,
      { atMs: resumed.firstRoundAtMs, viaEni: 'FAILED', eni: 'UNKNOWN' },
      policy,
    );
    expect(verdict).toMatchObject({ confirmedFailure: false, unknownSignals: ['eni'] });
  });

  it('counts a hang late in the minute from its first failed probe: detection does not restart at the boundary', () => {
    // Hung 1 s before the last round of the first invocation, never back.
    const hangAtMs = T0 + 56_500;
    const sim = simulate({ fromMs: hangAtMs, toMs: Number.POSITIVE_INFINITY }, [300, 300]);
    expect(sim.carriedFailures).toEqual([0, 1]);
    // Failures at 57.5 s, 62.5 s, 67.5 s: confirmed on the third probe, 11 s after the hang.
    expect(sim.confirmedAtMs).toBe(T0 + 67_500);
  });

  it('leaves no unprobed gap: consecutive rounds are exactly one interval apart across minutes when invocations start within 2.5 s', () => {
    const sim = simulate(undefined, [300, 2_400, 0, 1_200, 2_500]);
    const gaps = sim.rounds.slice(1).map((t, i) => t - (sim.rounds[i] ?? 0));
    // Only the very first invocation's catch-up to the grid (300 ms → 7.5 s) is longer.
    expect(gaps.slice(1).every((gap) => gap === INTERVAL)).toBe(true);
  });

  it('probes at once and stays at least one interval apart when an invocation starts late', () => {
    const sim = simulate(undefined, [300, 4_000, 300]);
    const gaps = sim.rounds.slice(1).map((t, i) => t - (sim.rounds[i] ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(INTERVAL);
    expect(Math.max(...gaps.slice(1))).toBeLessThan(2 * INTERVAL);
  });

  it('discards a carried run when an invocation was skipped (older than one interval + jitter)', () => {
    // The invocation of minute 1 never ran: minute 2 starts 62.5 s after the last probe.
    const resumed = resumeState(
      { consecutiveFailures: 2, firstFailureAtMs: T0 + 52_500, lastProbeAtMs: T0 + 57_500 },
      T0 + 120_300,
      handover,
    );
    expect(resumed).toMatchObject({ carried: 'STALE', state: HEALTHY });
  });

  it('never confirms a pause shorter than the 15 s window (14 s: 3 failed probes and the primary probe), wherever it falls', () => {
    const lengthMs = 2 * INTERVAL + 2 * TIMEOUT;
    let pauses = 0;
    for (let fromMs = T0 + 40_000; fromMs < T0 + 80_000; fromMs += 50) {
      for (const delays of [
        [300, 300],
        [300, 2_400],
        [300, 4_900],
      ]) {
        const sim = simulate({ fromMs, toMs: fromMs + lengthMs }, delays);
        expect(sim.confirmedAtMs, `pause from +${fromMs - T0} ms, starts ${delays}`).toBeUndefined();
        pauses += 1;
      }
    }
    expect(pauses).toBe(2_400);
  });

  it('confirms a hang wherever it falls in the minute, within 3 intervals of the hang (plus the first interval at most)', () => {
    for (let hangAtMs = T0 + 300; hangAtMs < T0 + 60_300; hangAtMs += 250) {
      const sim = simulate({ fromMs: hangAtMs, toMs: Number.POSITIVE_INFINITY }, [300, 300, 300]);
      expect(sim.confirmedAtMs).toBeDefined();
      // First failed probe within one interval of the hang, then two more intervals.
      expect((sim.confirmedAtMs ?? 0) - hangAtMs).toBeLessThanOrEqual(3 * INTERVAL + 2_200);
    }
  });
});
