/**
 * Test infrastructure: Lambda's SQS event source mappings for the local cloud. moto stores the mappings but its
 * own delivery needs Docker; this module reads every mapping **from the emulator as deployed**
 * (`ListEventSourceMappings`), and for each enabled SQS mapping: long-polls the queue, gathers a batch up to
 * `BatchSize` within `MaximumBatchingWindowInSeconds` (and under Lambda's 6 MB payload), invokes the function
 * synchronously through the Lambda Invoke API with the SQS event, and deletes the messages that succeeded —
 * with `FunctionResponseTypes: [ReportBatchItemFailures]` all but those in `batchItemFailures`; on a function
 * error or a failed Invoke call, none. The rest is left to the queue's visibility timeout and redrive policy
 * (moto applies `maxReceiveCount`). Mappings are re-read every `refreshMs`, so a mapping enabled, disabled,
 * changed or deleted in the emulator takes effect without a restart.
 *
 * Source: AWS Lambda Developer Guide, "Using Lambda with Amazon SQS" (event shape, batching window, polling),
 * "Handling errors for an SQS event source in Lambda" (partial batch responses: which answers count as a
 * complete success or a complete failure).
 *
 * @module
 */
import {
  type EventSourceMappingConfiguration,
  LambdaClient,
  ListEventSourceMappingsCommand,
} from '@aws-sdk/client-lambda';
import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import type { EmulatorClientConfig } from '../moto.ts';
import { InvokeApiError, invokeFunction, makeInvokeClient } from './invoke-api.ts';

/** Lambda's limit on a synchronous invocation's request payload (bytes). */
export const LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/**
 * One SQS message as Lambda hands it to the function.
 * Source: AWS Lambda Developer Guide, "Using Lambda with Amazon SQS", example standard queue message event.
 * @param message - As `ReceiveMessage` returned it (with `MessageSystemAttributeNames: ['All']` and
 *   `MessageAttributeNames: ['All']`).
 */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: Record<string, string> = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? '',
    SenderId: system.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? '',
  };
  for (const key of [
    'AWSTraceHeader',
    'SequenceNumber',
    'MessageGroupId',
    'MessageDeduplicationId',
  ] as const) {
    const value = system[key];
    if (value !== undefined) attributes[key] = value;
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '',
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
      ...attributes,
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
          ...(value.BinaryValue === undefined
            ? {}
            : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
          stringListValues: [],
          binaryListValues: [],
          dataType: value.DataType ?? 'String',
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** How one invocation of a batch ended. */
export type BatchOutcome =
  /** The function returned; `payload` is its answer. */
  | { readonly kind: 'returned'; readonly payload: string }
  /** The function failed (`X-Amz-Function-Error`). */
  | { readonly kind: 'function-error'; readonly payload: string }
  /** The Invoke call itself failed (throttled, no function, unreachable). */
  | { readonly kind: 'invoke-error'; readonly code: string };

const PartialBatchResponse = z
  .object({
    batchItemFailures: z
      .array(z.object({ itemIdentifier: z.string().min(1) }).loose())
      .nullable()
      .optional(),
  })
  .loose()
  .nullable();

/**
 * Which messages of a batch Lambda deletes. Pure.
 * Source: AWS Lambda Developer Guide, "Handling errors for an SQS event source in Lambda": with
 * ReportBatchItemFailures, a null/empty answer or an empty/null `batchItemFailures` is a complete success; an
 * answer that is not JSON, or an `itemIdentifier` that is empty, null or not a message of the batch, is a
 * complete failure.
 * @param messageIds - The batch's message ids.
 * @param reportBatchItemFailures - Whether the mapping has `FunctionResponseTypes: [ReportBatchItemFailures]`.
 * @returns The ids to delete and, for logs, the ids the function reported failed.
 */
export function messagesToDelete(
  messageIds: readonly string[],
  outcome: BatchOutcome,
  reportBatchItemFailures: boolean,
): { readonly deleteIds: readonly string[]; readonly reportedFailures: readonly string[] } {
  if (outcome.kind !== 'returned') return { deleteIds: [], reportedFailures: [] };
  if (!reportBatchItemFailures) return { deleteIds: [...messageIds], reportedFailures: [] };
  const text = outcome.payload.trim();
  if (text === '' || text === 'null') return { deleteIds: [...messageIds], reportedFailures: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { deleteIds: [], reportedFailures: [...messageIds] };
  }
  const parsed = PartialBatchResponse.safeParse(json);
  if (!parsed.success) return { deleteIds: [], reportedFailures: [...messageIds] };
  const failures = (parsed.data?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
  if (failures.some((id) => !messageIds.includes(id)))
    return { deleteIds: [], reportedFailures: [...messageIds] };
  const failed = new Set(failures);
  return { deleteIds: messageIds.filter((id) => !failed.has(id)), reportedFailures: failures };
}

/** One batch handled. */
export interface SqsBatchRecord {
  readonly mappingUuid: string;
  readonly functionArn: string;
  readonly queueArn: string;
  readonly messageIds: readonly string[];
  readonly deletedIds: readonly string[];
  readonly outcome: BatchOutcome['kind'];
  /** When the invocation returned (epoch ms). */
  readonly atMs: number;
  /** How long the batch was gathered (ms). */
  readonly gatherMs: number;
}

/** Running SQS event source mappings. */
export interface LocalSqsEventSources {
  /** Every batch handled, in order. */
  readonly batches: readonly SqsBatchRecord[];
  /** UUIDs of the mappings being polled now. */
  readonly polling: () => readonly string[];
  /** Re-reads the mappings now (also done every `refreshMs`). */
  refresh(): Promise<void>;
  /** Stops every poller (aborting long polls) and waits for in-flight batches. */
  stop(): Promise<void>;
}

/** Options of {@link startSqsEventSources}. */
export interface SqsEventSourcesOptions {
  /** Where mappings and queues live (moto, directly). */
  readonly aws: EmulatorClientConfig;
  /** The Lambda Invoke API (the front AWS endpoint in the topology; a labelled double in tests). */
  readonly invoke: EmulatorClientConfig;
  /** How often mappings are re-read (ms, default 2000). */
  readonly refreshMs?: number;
  /**
   * Long-poll wait per ReceiveMessage (s, 0–20, default 20 as Lambda does). moto 5.2.5 holds a long poll open
   * ~1 s after the first message arrives (it waits for more, up to MaxNumberOfMessages), so each batch reaches
   * the function ≥ 1 s late; 0 = short polling every `shortPollIntervalMs`, for runs that measure latency.
   */
  readonly waitTimeSeconds?: number;
  /** Pause between empty receives when `waitTimeSeconds` is 0 (ms, default 100). */
  readonly shortPollIntervalMs?: number;
  readonly log?: (line: string) => void;
}

interface Poller {
  readonly key: string;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

function mappingKey(m: EventSourceMappingConfiguration): string {
  return JSON.stringify([
    m.UUID,
    m.FunctionArn,
    m.EventSourceArn,
    m.BatchSize,
    m.MaximumBatchingWindowInSeconds,
    m.FunctionResponseTypes,
  ]);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * Starts polling every enabled SQS mapping in the emulator.
 * @example
 * const sources = await startSqsEventSources({ aws: moto.clientConfig, invoke: front.clientConfig, log });
 * // … messages sent to the queue reach the function …
 * await sources.stop();
 */
export async function startSqsEventSources(options: SqsEventSourcesOptions): Promise<LocalSqsEventSources> {
  const log = options.log ?? (() => undefined);
  const config = {
    endpoint: options.aws.endpoint,
    region: options.aws.region,
    credentials: options.aws.credentials,
  };
  const lambda = new LambdaClient(config);
  const sqs = new SQSClient(config);
  const invoker = makeInvokeClient(options.invoke);
  const region = options.aws.region;
  const waitTimeSeconds = Math.max(0, Math.min(20, options.waitTimeSeconds ?? 20));
  const batches: SqsBatchRecord[] = [];
  const pollers = new Map<string, Poller>();
  let stopped = false;

  async function listMappings(): Promise<EventSourceMappingConfiguration[]> {
    const all: EventSourceMappingConfiguration[] = [];
    let marker: string | undefined;
    for (let page = 0; page < 100; page++) {
      const out = await lambda.send(new ListEventSourceMappingsCommand(marker ? { Marker: marker } : {}));
      all.push(...(out.EventSourceMappings ?? []));
      marker = out.NextMarker;
      if (!marker) break;
    }
    return all;
  }

  async function handleBatch(
    mapping: EventSourceMappingConfiguration,
    queueUrl: string,
    messages: Message[],
    gatherMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const queueArn = mapping.EventSourceArn ?? '';
    const functionArn = mapping.FunctionArn ?? '';
    const records = messages.map((m) => toSqsRecord(m, queueArn, region));
    let outcome: BatchOutcome;
    try {
      const out = await invokeFunction(
        invoker,
        functionArn,
        JSON.stringify({ Records: records }),
        'RequestResponse',
        signal,
      );
      outcome = out.functionError
        ? { kind: 'function-error', payload: out.payload }
        : { kind: 'returned', payload: out.payload };
    } catch (error) {
      outcome = { kind: 'invoke-error', code: error instanceof InvokeApiError ? error.code : 'UNKNOWN' };
    }
    if (signal.aborted && outcome.kind === 'invoke-error') return;
    const ids = messages.map((m) => m.MessageId ?? '');
    const reportBatchItemFailures = (mapping.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures');
    const { deleteIds, reportedFailures } = messagesToDelete(ids, outcome, reportBatchItemFailures);
    const toDelete = messages.filter((m) => deleteIds.includes(m.MessageId ?? ''));
    for (let start = 0; start < toDelete.length; start += 10) {
      const chunk = toDelete.slice(start, start + 10);
      const out = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      for (const failed of out.Failed ?? [])
        log(
          `sqs-event-sources: delete failed for entry ${failed.Id}: ${failed.Code} ${failed.Message ?? ''}`,
        );
    }
    batches.push({
      mappingUuid: mapping.UUID ?? '',
      functionArn,
      queueArn,
      messageIds: ids,
      deletedIds: [...deleteIds],
      outcome: outcome.kind,
      atMs: Date.now(),
      gatherMs,
    });
    log(
      `sqs-event-sources: ${mapping.UUID} batch of ${ids.length} → ${functionArn.split(':').pop()}: ${outcome.kind}` +
        `${outcome.kind === 'invoke-error' ? ` (${outcome.code})` : ''}; deleted ${deleteIds.length}` +
        `${reportedFailures.length > 0 ? `, ${reportedFailures.length} reported failed` : ''}`,
    );
  }

  async function poll(mapping: EventSourceMappingConfiguration, signal: AbortSignal): Promise<void> {
    const queueArn = mapping.EventSourceArn ?? '';
    const [, , , , account, name] = queueArn.split(':');
    let queueUrl: string | undefined;
    const batchSize = mapping.BatchSize ?? 10;
    const windowMs = (mapping.MaximumBatchingWindowInSeconds ?? 0) * 1000;
    while (!signal.aborted) {
      try {
        queueUrl ??= (
          await sqs.send(
            new GetQueueUrlCommand({
              QueueName: name,
              ...(account ? { QueueOwnerAWSAccountId: account } : {}),
            }),
            { abortSignal: signal },
          )
        ).QueueUrl;
        if (!queueUrl) throw new Error(`no queue URL for ${queueArn}`);
        const messages: Message[] = [];
        let bytes = 0;
        let firstAtMs: number | undefined;
        // Gather: the first receive long-polls; then keep receiving until the batch is full, the window closed
        // or the payload limit is near.
        for (let receives = 0; receives < 1000 && !signal.aborted; receives++) {
          const remainingMs = firstAtMs === undefined ? undefined : firstAtMs + windowMs - Date.now();
          if (remainingMs !== undefined && remainingMs <= 0) break;
          const out = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl,
              MaxNumberOfMessages: Math.min(10, batchSize - messages.length),
              WaitTimeSeconds:
                remainingMs === undefined
                  ? waitTimeSeconds
                  : Math.min(waitTimeSeconds, Math.ceil(remainingMs / 1000)),
              MessageSystemAttributeNames: ['All'],
              MessageAttributeNames: ['All'],
            }),
            { abortSignal: signal },
          );
          for (const message of out.Messages ?? []) {
            messages.push(message);
            bytes += Buffer.byteLength(message.Body ?? '') + 1024;
          }
          if (messages.length > 0 && firstAtMs === undefined) firstAtMs = Date.now();
          if (messages.length === 0 || (out.Messages ?? []).length === 0) {
            // Short polling (waitTimeSeconds 0): pause between empty receives instead of spinning.
            if (waitTimeSeconds === 0) await sleep(options.shortPollIntervalMs ?? 100, signal);
            continue;
          }
          if (messages.length >= batchSize || windowMs === 0) break;
          if (bytes > LAMBDA_SYNC_PAYLOAD_LIMIT_BYTES - 256 * 1024) break;
        }
        if (messages.length === 0 || signal.aborted) continue;
        await handleBatch(mapping, queueUrl, messages, Date.now() - (firstAtMs ?? Date.now()), signal);
      } catch (error) {
        if (signal.aborted) return;
        log(`sqs-event-sources: ${mapping.UUID} poll failed: ${String(error)}; retrying in 1000 ms`);
        await sleep(1_000, signal);
      }
    }
  }

  async function refresh(): Promise<void> {
    if (stopped) return;
    const mappings = (await listMappings()).filter(
      (m) => (m.EventSourceArn ?? '').startsWith('arn:aws:sqs:') && m.State === 'Enabled',
    );
    const wanted = new Map(mappings.map((m) => [m.UUID ?? '', m]));
    for (const [uuid, poller] of pollers) {
      const mapping = wanted.get(uuid);
      if (mapping && mappingKey(mapping) === poller.key) continue;
      poller.abort.abort();
      await poller.done;
      pollers.delete(uuid);
      log(`sqs-event-sources: stopped polling ${uuid}`);
    }
    for (const [uuid, mapping] of wanted) {
      if (pollers.has(uuid)) continue;
      const abort = new AbortController();
      const done = poll(mapping, abort.signal);
      pollers.set(uuid, { key: mappingKey(mapping), abort, done });
      log(
        `sqs-event-sources: polling ${mapping.EventSourceArn} for ${mapping.FunctionArn} (mapping ${uuid}, ` +
          `BatchSize ${mapping.BatchSize}, window ${mapping.MaximumBatchingWindowInSeconds ?? 0} s, ` +
          `${(mapping.FunctionResponseTypes ?? []).join(',') || 'no partial batch responses'})`,
      );
    }
  }

  await refresh();
  let refreshing = false;
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    refresh()
      .catch((error: unknown) => log(`sqs-event-sources: refresh failed: ${String(error)}`))
      .finally(() => {
        refreshing = false;
      });
  }, options.refreshMs ?? 2_000);

  return {
    batches,
    polling: () => [...pollers.keys()],
    refresh,
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const poller of pollers.values()) poller.abort.abort();
      await Promise.allSettled([...pollers.values()].map((p) => p.done));
      pollers.clear();
      lambda.destroy();
      sqs.destroy();
      invoker.destroy();
    },
  };
}
