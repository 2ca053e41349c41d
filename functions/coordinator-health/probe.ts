/**
 * What one probe round of coordinator-health gathers: the probe through the coordinator ENI's address, and after a
 * failed probe the independent signals (the ENI's holder, its EC2 state and status, a probe of its primary
 * address). Every read that fails is UNKNOWN, never a definite value ({@link observe}).
 *
 * @module
 */
import { type AwsCall, describeInstance, type EniState, instanceStatus } from '../../lib/aws/ec2.ts';
import { type Observed, observe } from '../../lib/aws/observed.ts';
import { instanceUrl } from '../../lib/instance-url.ts';
import type { TrinoClient } from '../../lib/trino/client.ts';
import type { ProbeResult, ProbeRound } from './decide.ts';
import type { HealthDeps } from './deps.ts';

/**
 * Probes `GET /v1/info` once. Source: Trino `GET /v1/info`, io.trino.server.ServerInfoResource.
 * @returns `OK` (`starting:false`), `STARTING`, or `FAILED` (timeout, refused, TLS, non-2xx, bad body).
 */
export async function probe(
  client: TrinoClient,
  timeoutMs: number,
  call: AwsCall = {},
): Promise<ProbeResult> {
  try {
    return (await client.getInfo({ timeoutMs, ...(call.signal ? { signal: call.signal } : {}) })).starting
      ? 'STARTING'
      : 'OK';
  } catch {
    return 'FAILED';
  }
}

/** The instance holding the coordinator ENI, and its attachment. */
export interface Holder {
  readonly attachmentId: string;
  readonly instanceId: string;
}

/** The ENI's holder as observed: attached (with whom), detached, or unknown. */
export function holderOf(eni: Observed<EniState>): Observed<Holder | undefined> {
  if (!eni.known) return eni;
  const a = eni.value.attachment;
  return {
    known: true,
    value:
      a?.instanceId !== undefined && a.status !== 'detached' && a.status !== 'detaching'
        ? { attachmentId: a.attachmentId, instanceId: a.instanceId }
        : undefined,
  };
}

/**
 * Gathers the independent signals of one failed round; every failed read is UNKNOWN, never a definite value.
 * @returns The round's ENI reading, and for an attached ENI the holder's state, status and primary-address probe.
 */
export async function secondSignals(
  deps: HealthDeps,
  client: TrinoClient,
  holder: Observed<Holder | undefined>,
  call: AwsCall,
): Promise<Omit<ProbeRound, 'atMs' | 'viaEni'>> {
  if (!holder.known) return { eni: 'UNKNOWN' };
  if (holder.value === undefined) return { eni: 'DETACHED' };
  const id = holder.value.instanceId;
  const [instance, status] = await Promise.all([
    observe(() => describeInstance(deps.ec2, id, call)),
    observe(() => instanceStatus(deps.ec2, id, call)),
  ]);
  const base = {
    eni: 'ATTACHED' as const,
    // describeInstance throws InstanceGoneError for a terminated or unknown instance: that is a definite reading.
    instanceState: instance.known
      ? instance.value.state
      : /InstanceGoneError/.test(instance.reason)
        ? 'terminated'
        : ('UNKNOWN' as const),
    instanceStatus: status.known ? status.value : ('UNKNOWN' as const),
  };
  if (!instance.known) return base;
  let primaryUrl: string;
  try {
    primaryUrl = instanceUrl(deps.config.PRIMARY_URL_TEMPLATE, instance.value);
  } catch {
    return { ...base, viaPrimary: 'UNKNOWN' };
  }
  const viaPrimary = await client.withNode(primaryUrl, (primary) =>
    probe(primary, deps.config.PROBE_TIMEOUT_MS, call),
  );
  return { ...base, viaPrimary };
}
