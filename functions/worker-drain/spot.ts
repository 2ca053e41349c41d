/**
 * spotInterruption: EventBridge `EC2 Spot Instance Interruption Warning` → a worker of this cluster is asked for
 * `SHUTTING_DOWN` at once (it has two minutes; its `shutdown.grace-period` should be short on Spot workers, see
 * docs/drain.md). Any other instance is ignored with a log line.
 *
 * @module
 */
import { type AwsCall, describeInstance, type InstanceView } from '../../lib/aws/ec2.ts';
import { InstanceGoneError } from '../../lib/errors.ts';
import { eventHandler } from '../../lib/handler.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import { logger } from '../../lib/logger.ts';
import { isClusterWorker } from './decide.ts';
import { type DrainDeps, getDefaultDrainDeps } from './deps.ts';
import { type SpotInterruptionEvent, SpotInterruptionEventSchema } from './schemas.ts';

/**
 * @returns What was done.
 * @throws TrinoError when the worker refuses or cannot be reached (EventBridge retries per the rule's policy).
 */
export async function runSpotInterruption(event: SpotInterruptionEvent, deps: DrainDeps, call: AwsCall = {}) {
  const instanceId = event.detail['instance-id'];
  let instance: InstanceView;
  try {
    instance = await describeInstance(deps.ec2, instanceId, call);
  } catch (error) {
    if (error instanceof InstanceGoneError) {
      logger.info('Spot interruption for an instance that is already gone', { instanceId });
      return { action: 'none', reason: 'instance gone' } as const;
    }
    throw error;
  }
  if (!isClusterWorker(instance.tags, deps.config.CLUSTER_NAME)) {
    logger.info('Spot interruption for an instance that is not a worker of this cluster: ignored', {
      instanceId,
    });
    return { action: 'none', reason: 'not a worker of this cluster' } as const;
  }
  const coordinator = await deps.coordinator();
  await coordinator.withNode(instanceUrl(deps.config.WORKER_URL_TEMPLATE, instance), (worker) =>
    worker.setState('SHUTTING_DOWN', call.signal ? { signal: call.signal } : {}),
  );
  logger.info('Spot interruption: worker asked for SHUTTING_DOWN', { instanceId });
  return { action: 'SHUTTING_DOWN', instanceId } as const;
}

/** What a validation error calls the event. */
const SOURCE = 'EC2 Spot Instance Interruption Warning event';

/** Builds the handler over the given dependencies. */
export function makeSpotInterruptionHandler(deps: () => DrainDeps = getDefaultDrainDeps) {
  return eventHandler(SpotInterruptionEventSchema, SOURCE, deps, runSpotInterruption);
}

/** Lambda entry point (serverless.yml: `spotInterruption`). */
export const handler = makeSpotInterruptionHandler();
