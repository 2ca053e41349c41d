/**
 * SQS adapter: the query-log queue and dead-letter queue. Source: Amazon SQS API reference — SendMessage,
 * SendMessageBatch (≤ 10 entries per call, per-entry failures in `Failed`).
 *
 * @module
 */
import {
  type MessageAttributeValue,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type AwsCall, sendAws } from './send.ts';

/** One message to send. */
export interface OutgoingMessage {
  readonly body: string;
  /** String attributes. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** FIFO queues only: group and deduplication id. */
  readonly fifo?: { readonly groupId: string; readonly deduplicationId: string };
}

/** Entries per `SendMessageBatch` call (the API's limit). */
export const SQS_BATCH = 10;

function attributesOf(message: OutgoingMessage): Record<string, MessageAttributeValue> | undefined {
  if (message.attributes === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(message.attributes).map(([name, value]) => [
      name,
      { DataType: 'String', StringValue: value },
    ]),
  );
}

/**
 * `SendMessage`.
 * @throws AwsThrottledError | AwsError
 */
export async function sendMessage(
  sqs: SQSClient,
  queueUrl: string,
  message: OutgoingMessage,
  call: AwsCall = {},
): Promise<void> {
  const send = new SendMessageCommand({
    QueueUrl: queueUrl,
    MessageBody: message.body,
    MessageAttributes: attributesOf(message),
    ...(message.fifo
      ? { MessageGroupId: message.fifo.groupId, MessageDeduplicationId: message.fifo.deduplicationId }
      : {}),
  });
  await sendAws(
    { operation: 'SQS SendMessage', context: { queueUrl } },
    (options) => sqs.send(send, options),
    call,
  );
}

/**
 * Sends messages in batches of {@link SQS_BATCH}.
 * @returns The indexes (into `messages`) SQS refused, with SQS's error code; empty when all were sent.
 * @throws AwsThrottledError | AwsError when a whole call fails (messages of later batches are not sent then).
 */
export async function sendMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingMessage[],
  call: AwsCall = {},
): Promise<{ index: number; code: string }[]> {
  const failed: { index: number; code: string }[] = [];
  for (let start = 0; start < messages.length; start += SQS_BATCH) {
    const batch = messages.slice(start, start + SQS_BATCH);
    const send = new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: batch.map((m, i) => ({
        Id: String(i),
        MessageBody: m.body,
        MessageAttributes: attributesOf(m),
      })),
    });
    const out = await sendAws(
      { operation: 'SQS SendMessageBatch', context: { queueUrl, entries: batch.length } },
      (options) => sqs.send(send, options),
      call,
    );
    for (const f of out.Failed ?? []) {
      failed.push({ index: start + Number(f.Id), code: f.Code ?? 'unknown' });
    }
  }
  return failed;
}
