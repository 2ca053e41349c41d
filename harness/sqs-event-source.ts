/**
 * Test infrastructure: what Lambda's SQS event source mapping does, run locally against moto's SQS — long-polls the
 * queue, hands each batch to the handler as an SQS event, deletes the messages the handler did not report in
 * `batchItemFailures` (all of them when it throws: none deleted), and leaves the failed ones to reappear after the
 * queue's visibility timeout with a higher `ApproximateReceiveCount`. Nothing in production uses this.
 *
 * @module
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { localContext } from './invoke.ts';

/** A handler as middy builds it. */
export type SqsBatchHandler = (event: never, context: Context) => Promise<unknown>;

/** A running event source. */
export interface LocalSqsEventSource {
  /** Invocations so far and their failure counts. */
  readonly stats: { invocations: number; messages: number; reportedFailures: number; handlerErrors: number };
  stop(): Promise<void>;
}

const BatchResponse = z.object({ batchItemFailures: z.array(z.object({ itemIdentifier: z.string() })) });

function toRecord(message: Message, queueArn: string, region: string) {
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp:
        message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([k, v]) => [
        k,
        {
          stringValue: v.StringValue,
          dataType: v.DataType ?? 'String',
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Starts polling.
 * @param options.batchSize - Messages per invocation (moto, like SQS, returns at most 10 per receive; default 10).
 */
export function startSqsEventSource(options: {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsBatchHandler;
  readonly functionName?: string;
  readonly batchSize?: number;
  readonly region?: string;
}): LocalSqsEventSource {
  const stats = { invocations: 0, messages: 0, reportedFailures: 0, handlerErrors: 0 };
  const region = options.region ?? 'us-east-1';
  const queueArn = `arn:aws:sqs:${region}:123456789012:${options.queueUrl.split('/').pop() ?? 'queue'}`;
  let running = true;
  const loop = (async () => {
    while (running) {
      const out = await options.sqs
        .send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: Math.min(10, options.batchSize ?? 10),
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        )
        .catch(() => ({ Messages: [] as Message[] }));
      const messages = out.Messages ?? [];
      if (messages.length === 0 || !running) continue;
      stats.invocations += 1;
      stats.messages += messages.length;
      let failed: Set<string>;
      try {
        const response = BatchResponse.parse(
          await options.handler(
            { Records: messages.map((m) => toRecord(m, queueArn, region)) } as never,
            localContext(options.functionName ?? 'sqsConsumer'),
          ),
        );
        failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      } catch {
        stats.handlerErrors += 1;
        failed = new Set(messages.map((m) => m.MessageId ?? ''));
      }
      stats.reportedFailures += failed.size;
      const done = messages.filter((m) => !failed.has(m.MessageId ?? ''));
      for (let start = 0; start < done.length; start += 10) {
        await options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: done
              .slice(start, start + 10)
              .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    }
  })();
  return {
    stats,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
