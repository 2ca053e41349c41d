/**
 * Effects of the drain on one worker: requesting a node state and
 * observing it. Thin adapters over the Trino client; decisions live in ./decide.ts.
 *
 * @module
 */

import { TrinoAuthError, TrinoConnectionError, TrinoHttpError, TrinoTimeoutError } from '../../lib/errors.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import type { NodeState } from '../../lib/trino/schemas.ts';

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
