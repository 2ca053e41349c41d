/**
 * CompleteFailover: publishes `FailoverDurationSeconds` (first failed probe → end), `FailoverServingSeconds` and
 * `Failovers`, logs the timeline as one structured event, notifies. Also the end of a dry run or a stand-down
 * (nothing changed: report only). The active coordinator is whichever instance holds the ENI: no tags to swap.
 *
 * @module
 */
import { publishMetrics } from '../../../lib/aws/cloudwatch.ts';
import type { AwsCall } from '../../../lib/aws/ec2.ts';
import { logger } from '../../../lib/logger.ts';
import { failoverReport } from '../decide.ts';
import { type FailoverDeps, notify } from '../deps.ts';
import type { FailoverState } from '../schemas.ts';

/** Output of the failover execution: the outcome, the report and the timeline. */
export interface FailoverResult {
  readonly cluster: string;
  readonly mode: string;
  readonly dryRun: boolean;
  readonly outcome: 'FAILED_OVER' | 'DEGRADED' | 'DRY_RUN' | 'STOOD_DOWN';
  /** Epoch ms of the first failed probe (start − detectedAfterMs) and of the execution's start. */
  readonly failureAtMs: number;
  readonly startedAtMs: number;
  readonly plan: FailoverState['plan'];
  readonly newCoordinatorInstanceId?: string;
  readonly report?: ReturnType<typeof failoverReport>;
  readonly timeline: FailoverState['timeline'];
}

/** @throws nothing of its own (metrics and notification failures are logged). */
export async function runCompleteFailover(
  state: FailoverState,
  deps: FailoverDeps,
  call: AwsCall,
): Promise<FailoverResult> {
  const now = deps.now();
  const { plan: p } = state;
  const base = {
    cluster: state.cluster,
    mode: state.mode,
    dryRun: state.dryRun,
    failureAtMs: state.failureAtMs,
    startedAtMs: state.startedAtMs,
    plan: p,
  };
  if (p.action !== 'FAILOVER') {
    const outcome = p.action === 'DRY_RUN' ? 'DRY_RUN' : 'STOOD_DOWN';
    logger.info('Failover execution ended without a move', { outcome, plan: p });
    return { ...base, outcome, timeline: state.timeline };
  }
  const newCoordinator = p.standbyInstanceId ?? '';
  const report = failoverReport({
    failureAtMs: state.failureAtMs,
    startedAtMs: state.startedAtMs,
    ...(state.detach?.detachedAtMs === undefined ? {} : { detachedAtMs: state.detach.detachedAtMs }),
    ...(state.attach?.attachedAtMs === undefined ? {} : { attachedAtMs: state.attach.attachedAtMs }),
    ...(state.serving?.servingAtMs === undefined ? {} : { servingAtMs: state.serving.servingAtMs }),
    ...(state.serving?.workersBackAtMs === undefined
      ? {}
      : { workersBackAtMs: state.serving.workersBackAtMs }),
    endedAtMs: now,
  });
  const outcome = state.serving?.step === 'SERVING' ? 'FAILED_OVER' : 'DEGRADED';
  const timeline = [...state.timeline, { atMs: now, event: `${newCoordinator} is the coordinator` }];
  await publishMetrics(
    deps.cloudwatch,
    [
      { name: 'FailoverDurationSeconds', unit: 'Seconds', value: report.totalMs / 1000 },
      ...(report.servingAfterMs === undefined
        ? []
        : [
            { name: 'FailoverServingSeconds', unit: 'Seconds' as const, value: report.servingAfterMs / 1000 },
          ]),
      { name: 'Failovers', unit: 'Count', value: 1 },
      { name: 'FailoversDegraded', unit: 'Count', value: outcome === 'DEGRADED' ? 1 : 0 },
    ],
    { namespace: deps.config.METRICS_NAMESPACE, clusterName: state.cluster, timestamp: new Date(now) },
    call,
  ).catch((error: unknown) => logger.warn('Could not publish failover metrics', { error: String(error) }));
  const result: FailoverResult = {
    ...base,
    outcome,
    newCoordinatorInstanceId: newCoordinator,
    report,
    timeline,
  };
  logger.info('Failover timeline', { ...result });
  await notify(
    deps,
    `Trino coordinator ${outcome === 'FAILED_OVER' ? 'failed over' : 'moved, workers not all back'} (${state.cluster})`,
    result,
    call,
  );
  return result;
}
