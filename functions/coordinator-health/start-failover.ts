/**
 * What coordinator-health does on a confirmed failure: start the failover state machine, once, or only notify.
 * The lock ({@link startExecutionOnce}): a failover starts only when no execution of the failover state machine is
 * RUNNING; names are unique per minute ({@link failoverExecutionName}), so a closed execution never blocks the next
 * failure.
 *
 * @module
 */
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { type StartOutcome, startExecutionOnce } from '../../lib/aws/sfn.ts';
import { notifyAlarmTopic } from '../../lib/aws/sns.ts';
import { logger } from '../../lib/logger.ts';
import { publishMetricSet } from '../../lib/metrics-sink.ts';
import { failoverExecutionName, type HealthVerdict } from './decide.ts';
import type { HealthDeps } from './deps.ts';
import type { Holder } from './probe.ts';

/** What a confirmed failure led to. */
export interface FailoverStart {
  readonly failover: 'NONE' | 'STARTED' | 'ALREADY_RUNNING' | 'NOT_STARTED' | 'NOTIFIED_ONLY';
  /** The failover execution started, or the one already running. */
  readonly executionName?: string;
}

/**
 * Acts on a confirmed failure: starts the failover state machine once ({@link startExecutionOnce}: not while one
 * is RUNNING), or with `AUTO_FAILOVER=false` (or no state machine) only notifies; a confirmed failure that starts
 * nothing although it should publishes `FailoverNotStarted`. Notifications are best effort.
 * @param holder - The ENI's holder when known: the execution name and input carry its attachment.
 * @returns What was done, and the execution's name (the running one for `ALREADY_RUNNING`).
 */
export async function onConfirmedFailure(
  deps: HealthDeps,
  verdict: HealthVerdict,
  holder: Holder | undefined,
  call: AwsCall,
): Promise<FailoverStart> {
  const detail = {
    cluster: deps.config.CLUSTER_NAME,
    failingForMs: verdict.failingForMs,
    secondSignal: verdict.secondSignal,
    instanceId: holder?.instanceId,
    attachmentId: holder?.attachmentId,
  };
  logger.error('Coordinator failure confirmed', detail);
  const notify = (subject: string, extra: Record<string, unknown>) =>
    notifyAlarmTopic(deps.sns, deps.config.ALARM_TOPIC_ARN, subject, { ...detail, ...extra }, call);
  if (!deps.config.AUTO_FAILOVER || deps.config.FAILOVER_STATE_MACHINE_ARN === undefined) {
    await notify(`Trino coordinator failure confirmed (${deps.config.CLUSTER_NAME})`, {
      autoFailover: false,
    });
    return { failover: 'NOTIFIED_ONLY' };
  }
  const executionName = failoverExecutionName(deps.config.CLUSTER_NAME, holder?.attachmentId, deps.now());
  let started: StartOutcome | { readonly outcome: 'START_FAILED'; readonly error: string };
  try {
    started = await startExecutionOnce(
      deps.sfn,
      {
        stateMachineArn: deps.config.FAILOVER_STATE_MACHINE_ARN,
        name: executionName,
        input: { mode: 'failover', dryRun: false, detectedAfterMs: verdict.failingForMs, ...detail },
      },
      call,
    );
  } catch (error) {
    started = { outcome: 'START_FAILED', error: String(error) };
  }
  switch (started.outcome) {
    case 'STARTED':
      logger.info('Failover started', { executionName });
      await notify(`Trino coordinator failure confirmed: failover started (${deps.config.CLUSTER_NAME})`, {
        executionName,
      });
      return { failover: 'STARTED', executionName };
    case 'ALREADY_RUNNING':
      logger.info('A failover is already running: nothing started', { running: started.running });
      return { failover: 'ALREADY_RUNNING', executionName: started.running[0] ?? executionName };
    default: {
      const reason = started.outcome === 'NAME_TAKEN' ? 'execution name already used' : started.error;
      logger.error('Confirmed coordinator failure started no failover', { executionName, reason });
      await publishMetricSet(
        deps.cloudwatch,
        [{ name: 'FailoverNotStarted', unit: 'Count', value: 1 }],
        {
          sink: deps.config.METRICS_SINK,
          namespace: deps.config.METRICS_NAMESPACE,
          clusterName: deps.config.CLUSTER_NAME,
          timestamp: new Date(),
        },
        call,
      ).catch((error: unknown) =>
        logger.warn('Could not publish FailoverNotStarted', { error: String(error) }),
      );
      await notify(`Trino coordinator failure confirmed, NO failover started (${deps.config.CLUSTER_NAME})`, {
        executionName,
        reason,
      });
      return { failover: 'NOT_STARTED', executionName };
    }
  }
}
