/**
 * Effects of the drain on one worker: resolving its URL from the instance, requesting a node state, and
 * observing it. Thin adapters over the Trino client; decisions live in ./decide.ts.
 *
 * @module
 */

import type { InstanceView } from '../../lib/aws/ec2.ts';
import {
  TrinoAuthError,
  TrinoConnectionError,
  TrinoHttpError,
  TrinoTimeoutError,
  ValidationError,
} from '../../lib/errors.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import type { NodeState } from '../../lib/trino/schemas.ts';

/**
 * Fills `WORKER_URL_TEMPLATE` from an instance: `{privateIp}` and `{tag:<Key>}`. Pure.
 * @example workerUrlFor('http://{privateIp}:8080', instance) // 'http://10.0.3.17:8080'
 * @throws ValidationError when a placeholder has no value (no private IP, missing tag) or the result is not a URL.
 */
export function workerUrlFor(template: string, instance: InstanceView): string {
  const url = template.replace(/\{(privateIp|tag:[^}]+)\}/g, (_, key: string) => {
    const value = key === 'privateIp' ? instance.privateIpAddress : instance.tags[key.slice('tag:'.length)];
    if (value === undefined) {
      throw new ValidationError(
        `Instance ${instance.instanceId} has no value for {${key}} in WORKER_URL_TEMPLATE`,
        {
          context: { instanceId: instance.instanceId, placeholder: key },
        },
      );
    }
    return value;
  });
  if (!URL.canParse(url)) {
    throw new ValidationError(`WORKER_URL_TEMPLATE produced "${url}", which is not a URL`, {
      context: { instanceId: instance.instanceId },
    });
  }
  return url;
}

/**
 * Asks the worker for `DRAINING` (or `SHUTTING_DOWN`). A release that does not know `DRAINING` answers 400;
 * then `SHUTTING_DOWN` is requested instead.
 * @returns The state actually requested.
 * @throws TrinoAuthError (401/403) naming the access-control rule — never swallowed; other Trino errors as usual.
 */
export async function requestDrain(
  worker: TrinoClient,
  wanted: 'DRAINING' | 'SHUTTING_DOWN',
): Promise<'DRAINING' | 'SHUTTING_DOWN'> {
  try {
    await worker.setState(wanted);
    return wanted;
  } catch (error) {
    if (
      wanted === 'DRAINING' &&
      error instanceof TrinoHttpError &&
      !(error instanceof TrinoAuthError) &&
      error.status === 400
    ) {
      await worker.setState('SHUTTING_DOWN');
      return 'SHUTTING_DOWN';
    }
    throw error;
  }
}

/**
 * Reads the worker's state; a failed connection or timeout reads as `UNREACHABLE` (the process may be gone).
 * @throws TrinoAuthError | TrinoHttpError | TrinoResponseError: the worker answered, but not as expected.
 */
export async function observeWorkerState(worker: TrinoClient): Promise<NodeState | 'UNREACHABLE'> {
  try {
    return await worker.getState();
  } catch (error) {
    if (error instanceof TrinoConnectionError || error instanceof TrinoTimeoutError) return 'UNREACHABLE';
    throw error;
  }
}
