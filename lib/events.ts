/**
 * EventBridge events the functions are triggered by: the envelope every EventBridge event shares, and the
 * scheduled event. Source: Amazon EventBridge User Guide, "Amazon EventBridge events" (event structure) and
 * "Creating a rule that runs on a schedule".
 *
 * @module
 */
import * as z from 'zod';

/**
 * The schema of one kind of EventBridge event: the shared envelope (`version`, `id`, `account`, `time`, `region`,
 * `resources`) with the given `detail-type`, `source` and `detail`.
 * @param detailType - The `detail-type` the event must have, e.g. `Scheduled Event`.
 * @param source - The `source` it must have, e.g. `aws.events`.
 * @param detail - The schema of its `detail`.
 * @returns A zod object schema; parsing fails on any other `detail-type` or `source`.
 * @example const Spot = eventBridgeEventSchema('EC2 Spot Instance Interruption Warning', 'aws.ec2', z.object({}));
 */
export function eventBridgeEventSchema<T extends string, S extends string, D extends z.ZodType>(
  detailType: T,
  source: S,
  detail: D,
) {
  return z.object({
    version: z.string(),
    id: z.string().min(1),
    'detail-type': z.literal(detailType),
    source: z.literal(source),
    account: z.string(),
    time: z.iso.datetime(),
    region: z.string(),
    resources: z.array(z.string()),
    detail,
  });
}

/** The EventBridge scheduled event that triggers a scheduled function (`detail-type: "Scheduled Event"`, `source: "aws.events"`). */
export const ScheduledEventSchema = eventBridgeEventSchema(
  'Scheduled Event',
  'aws.events',
  z.object({}).loose(),
);
/** Parsed scheduled event. */
export type ScheduledEvent = z.infer<typeof ScheduledEventSchema>;
