/**
 * SNS adapter: notifications to the alarm topic. Source: Amazon SNS API reference, Publish (Subject ≤ 100
 * characters, ASCII without line breaks).
 *
 * @module
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { logger } from '../logger.ts';
import { type AwsCall, sendAws } from './send.ts';

/**
 * Publishes a JSON message. The subject is cut to SNS's 100 characters, line breaks removed.
 * @throws AwsThrottledError | AwsError
 */
export async function publishNotification(
  sns: SNSClient,
  topicArn: string,
  subject: string,
  message: unknown,
  call: AwsCall = {},
): Promise<void> {
  await sendAws(
    { operation: 'SNS Publish', context: { topicArn } },
    (options) =>
      sns.send(
        new PublishCommand({
          TopicArn: topicArn,
          Subject: subject.replace(/[\r\n]+/g, ' ').slice(0, 100),
          Message: JSON.stringify(message),
        }),
        options,
      ),
    call,
  );
}

/**
 * Notifies the alarm topic when one is configured. Best effort: a failed publish is logged as an error (`Could not
 * notify the alarm topic`, with the SDK error's name), never thrown, so a notification never stops what it reports
 * on. Where the notification is the point (the failover's NotifyFailure), publish with {@link publishNotification}.
 * @param topicArn - The alarm topic (`ALARM_TOPIC_ARN`); `undefined` sends nothing.
 * @param message - Sent as JSON; never tokens or secrets.
 * @example await notifyAlarmTopic(deps.sns, deps.config.ALARM_TOPIC_ARN, 'Trino coordinator failover FAILED (prod)', { cluster: 'prod' });
 */
export async function notifyAlarmTopic(
  sns: SNSClient,
  topicArn: string | undefined,
  subject: string,
  message: unknown,
  call: AwsCall = {},
): Promise<void> {
  if (topicArn === undefined) return;
  await publishNotification(sns, topicArn, subject, message, call).catch((error: unknown) =>
    // An error, not a warning: a lost notification is a page nobody gets (e.g. a role without kms:GenerateDataKey
    // on the topic's key). The caller goes on: what it reports on must not stop for it.
    logger.error('Could not notify the alarm topic', {
      topicArn,
      subject,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    }),
  );
}
