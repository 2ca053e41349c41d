/**
 * Where the detector's state lives between invocations: one SSM `String` parameter under the cluster's prefix
 * (`DETECTOR_STATE_SSM_PARAMETER`, JSON {@link StoredDetectorStateSchema}), read once when an invocation starts and
 * written once when it ends: two SSM calls a minute, none per probe. A warm container is likely but never
 * guaranteed (AWS may start any invocation in a new execution environment), so the state is not kept in memory.
 * A read that fails or a value that does not parse starts the invocation healthy: unknown never counts towards a
 * failure. Source: AWS Systems Manager API reference — GetParameter, PutParameter.
 *
 * @module
 */
import * as z from 'zod';
import type { AwsCall } from '../../lib/aws/ec2.ts';
import { getJsonParameter, putParameterValue } from '../../lib/aws/ssm.ts';
import { logger } from '../../lib/logger.ts';
import type { StoredDetectorState } from './decide.ts';
import type { HealthDeps } from './deps.ts';

/** The stored state's JSON. */
export const StoredDetectorStateSchema = z.object({
  consecutiveFailures: z.number().int().min(0),
  firstFailureAtMs: z.number().optional(),
  lastProbeAtMs: z.number(),
});

/**
 * Reads the stored state once.
 * @returns The state; `undefined` when no parameter is configured, none is stored, or it could not be read or
 *   parsed (each logged).
 */
export async function readStoredState(
  deps: HealthDeps,
  call: AwsCall,
): Promise<StoredDetectorState | undefined> {
  const name = deps.config.DETECTOR_STATE_SSM_PARAMETER;
  if (name === undefined) return undefined;
  try {
    const read = await getJsonParameter(deps.ssm, name, StoredDetectorStateSchema, call);
    if (read.found && !read.ok) logger.warn('Stored detector state unreadable: starting healthy', { name });
    return read.found && read.ok ? read.value : undefined;
  } catch (error) {
    logger.warn('Could not read the stored detector state: starting healthy', { name, error: String(error) });
    return undefined;
  }
}

/** Writes the state once (best effort: a failed write makes the next invocation start healthy). */
export async function writeStoredState(
  deps: HealthDeps,
  state: StoredDetectorState,
  call: AwsCall,
): Promise<void> {
  const name = deps.config.DETECTOR_STATE_SSM_PARAMETER;
  if (name === undefined) return;
  try {
    await putParameterValue(deps.ssm, name, JSON.stringify(state), call);
  } catch (error) {
    logger.warn('Could not store the detector state', { name, error: String(error) });
  }
}
