/**
 * The shared Powertools logger: structured JSON, one per process, service name from `POWERTOOLS_SERVICE_NAME`.
 * Log events never include credentials or lifecycle action tokens; pass only the fields an operator needs.
 *
 * @module
 */
import { Logger } from '@aws-lambda-powertools/logger';

/** Process-wide structured logger. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'trino-sentinel' });
