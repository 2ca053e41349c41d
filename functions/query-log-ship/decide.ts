/**
 * Pure decisions of the query-log shipper: what becomes of each SQS message of a batch after the bulk write. No I/O.
 *
 * - `INDEXED`: the engine stored the document (`_id` = queryId, so a retry or a duplicate event overwrites the same
 *   document: never two).
 * - `RETRY`: reported back in `batchItemFailures`; SQS makes the message visible again after the visibility timeout
 *   and the next batch retries it. Only these messages retry, never the whole batch.
 * - `DEAD`: sent to the dead-letter queue by the shipper with the reason, then deleted from the source queue:
 *   a poison message (not a Trino event, a document the engine rejects with 400), or a retryable failure that has
 *   used up `maxAttempts` receives.
 *
 * @module
 */

/** One message of the batch as the shipper saw it. */
export interface ShipMessage {
  readonly messageId: string;
  /** SQS `ApproximateReceiveCount` (1 on the first delivery). */
  readonly receiveCount: number;
  /** Why the body could not become a document (invalid JSON, not a QueryCompletedEvent); undefined when it did. */
  readonly parseError?: string;
}

/** The engine's answer for one document (`_bulk` item), keyed by message. */
export interface ItemResult {
  /** HTTP status of the item (201/200 stored, 400 rejected, 429 rejected for load, 5xx). */
  readonly status: number;
  readonly ok: boolean;
  /** Whether sending it again can succeed (429, 5xx, timeouts). */
  readonly retryable: boolean;
  readonly reason?: string;
}

/** What happens to one message. */
export interface MessageOutcome {
  readonly messageId: string;
  readonly kind: 'INDEXED' | 'RETRY' | 'DEAD';
  /** For RETRY and DEAD: why (logged, and put on the dead letter). */
  readonly reason?: string;
}

/**
 * Decides every message's outcome.
 * @param messages - The batch.
 * @param results - The engine's per-item results by messageId, or `{ unavailable: reason }` when the whole bulk
 *   request failed (engine down, timeout, 5xx, auth): then every parsed message retries.
 * @param maxAttempts - Receives after which a retryable failure goes to the dead-letter queue (≥ 1).
 */
export function decideShipment(
  messages: readonly ShipMessage[],
  results: ReadonlyMap<string, ItemResult> | { readonly unavailable: string },
  maxAttempts: number,
): MessageOutcome[] {
  return messages.map((message): MessageOutcome => {
    if (message.parseError !== undefined) {
      return {
        messageId: message.messageId,
        kind: 'DEAD',
        reason: `not a query event: ${message.parseError}`,
      };
    }
    const exhausted = message.receiveCount >= maxAttempts;
    if ('unavailable' in results) {
      return exhausted
        ? {
            messageId: message.messageId,
            kind: 'DEAD',
            reason: `search engine unavailable after ${message.receiveCount} attempts: ${results.unavailable}`,
          }
        : { messageId: message.messageId, kind: 'RETRY', reason: results.unavailable };
    }
    const result = results.get(message.messageId);
    if (result === undefined) {
      // No item came back for it (should not happen): retry rather than lose it.
      return { messageId: message.messageId, kind: 'RETRY', reason: 'no bulk item result' };
    }
    if (result.ok) return { messageId: message.messageId, kind: 'INDEXED' };
    const reason = `${result.status}${result.reason === undefined ? '' : ` ${result.reason}`}`;
    if (!result.retryable)
      return { messageId: message.messageId, kind: 'DEAD', reason: `rejected: ${reason}` };
    return exhausted
      ? {
          messageId: message.messageId,
          kind: 'DEAD',
          reason: `still failing after ${message.receiveCount} attempts: ${reason}`,
        }
      : { messageId: message.messageId, kind: 'RETRY', reason };
  });
}

/**
 * The daily index of a query: `<prefix>-YYYY.MM.DD` of its end time in UTC (a query is filed under the day it
 * ended, so a retry on another day still lands in the same index and overwrites the same `_id`).
 * @param endTime - ISO-8601 instant (`QueryLogDocument.endTime`).
 * @throws RangeError for a time that is not a date.
 */
export function dailyIndexName(prefix: string, endTime: string): string {
  const date = new Date(endTime);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a time: ${endTime}`);
  return `${prefix}-${date.toISOString().slice(0, 10).replaceAll('-', '.')}`;
}
