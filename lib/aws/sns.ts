/**
 * SNS adapter: notifications to the alarm topic. Source: Amazon SNS API reference, Publish (Subject ≤ 100
 * characters, ASCII without line breaks).
 *
 * @module
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { AwsCall } from './ec2.ts';
import { toAwsError } from './sdk-errors.ts';

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
  try {
    await sns.send(
      new PublishCommand({
        TopicArn: topicArn,
        Subject: subject.replace(/[\r\n]+/g, ' ').slice(0, 100),
        Message: JSON.stringify(message),
      }),
      { abortSignal: call.signal },
    );
  } catch (cause) {
    throw toAwsError('SNS Publish', cause, { topicArn });
  }
}
