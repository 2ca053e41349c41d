/**
 * The query-log fallback poller against the shared secure Trino 476 and moto (SQS, SSM, CloudWatch): real
 * queries (one that finishes, one that fails with a syntax error) end up as QueryCompletedEvent messages on the
 * queue, in the same shape the HTTP event listener posts; a second poll sends nothing already sent.
 */
import { randomUUID } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { type PollDeps, runPoll } from '../../functions/query-log-poll/handler.ts';
import { QueryLogPollEnvSchema } from '../../functions/query-log-poll/schemas.ts';
import { controlPlaneEnv } from '../../harness/control-plane-env.ts';
import { loadConfig } from '../../lib/config.ts';
import { resolveTrinoClient } from '../../lib/trino/connect.ts';
import { QueryCompletedEventSchema, toQueryLogDocument } from '../../lib/trino/query-events.ts';
import { awsConfig, components, readMetrics, resetAws, secretSources } from '../helpers/components.ts';

async function drain(sqs: SQSClient, queueUrl: string) {
  const bodies: string[] = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!out.Messages?.length) return bodies;
    bodies.push(...out.Messages.map((m) => m.Body ?? ''));
  }
}

describe('query-log fallback poller on a real coordinator', () => {
  let deps: PollDeps;
  let queueUrl: string;
  const sqs = new SQSClient(awsConfig());
  const marker = randomUUID();

  beforeAll(async () => {
    await resetAws();
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'it-poll-query-logs' }))).QueueUrl ?? '';
    const env = await controlPlaneEnv(awsConfig(), components().trino, 'it-poll');
    const config = loadConfig(QueryLogPollEnvSchema, { ...env, QUERY_LOG_QUEUE_URL: queueUrl });
    deps = {
      config,
      sqs,
      ssm: new SSMClient(awsConfig()),
      cloudwatch: new CloudWatchClient(awsConfig()),
      coordinator: () => resolveTrinoClient(config, secretSources()),
      now: () => Date.now(),
    };
    const client = await deps.coordinator();
    await client.query(`SELECT count(*) /* ${marker} ok */ FROM tpch.tiny.nation`);
    await expect(client.query(`SELEC 1 /* ${marker} bad */`)).rejects.toThrow(/mismatched input/);
  });

  it('ships finished and failed queries as listener-shaped events, then only new ones', async () => {
    const first = await runPoll(deps);
    expect(first.sent).toBeGreaterThanOrEqual(2);
    const events = (await drain(sqs, queueUrl)).map((body) =>
      QueryCompletedEventSchema.parse(JSON.parse(body)),
    );
    const ours = events.filter((e) => e.metadata.query.includes(marker));
    expect(ours.map((e) => e.metadata.queryState).sort()).toEqual(['FAILED', 'FINISHED']);
    const byState = (state: string) => {
      const event = ours.find((e) => e.metadata.queryState === state);
      if (event === undefined) throw new Error(`no ${state} event`);
      return toQueryLogDocument(event);
    };
    const failed = byState('FAILED');
    expect(failed).toMatchObject({ errorCode: 'SYNTAX_ERROR', errorType: 'USER_ERROR', user: 'sentinel' });
    const ok = byState('FINISHED');
    expect(ok.outputRows).toBe(1);
    expect(ok.wallTimeMs).toBeGreaterThan(0);

    const stored = await deps.ssm.send(
      new GetParameterCommand({ Name: '/trino-sentinel/it-poll/query-log-watermark' }),
    );
    expect(JSON.parse(stored.Parameter?.Value ?? '{}')).toEqual(first.watermark);

    const second = await runPoll(deps);
    const again = (await drain(sqs, queueUrl)).map((body) =>
      QueryCompletedEventSchema.parse(JSON.parse(body)),
    );
    expect(again.filter((e) => e.metadata.query.includes(marker))).toHaveLength(0);
    expect(second.possibleGap).toBe(false);
    expect(
      (await readMetrics(deps.cloudwatch, 'it-poll', ['QueryLogsPolled'])).QueryLogsPolled,
    ).toBeGreaterThanOrEqual(0);
  });
});
