/**
 * The ONE price table of the cost figure (bench/cost.ts, docs/cost.md): AWS list prices, region us-east-1,
 * on-demand, first pricing tier, no free tier (free tiers are per account and shared by everything in it).
 * Change a price here and in docs/cost.md's table together, with the date.
 *
 * @module
 */

/** When the prices were taken from the pages named in {@link PRICE_SOURCES}. */
export const PRICES_AS_OF = '2026-11-30';
/** Region of every price. */
export const PRICE_REGION = 'us-east-1';

/** US dollars per unit. */
export const PRICES = {
  /** Lambda, per request (invocation). */
  lambdaRequestUsd: 0.2 / 1_000_000,
  /** Lambda duration on arm64 (Graviton), per GB-second, first 7.5 billion GB-s a month. */
  lambdaArm64GbSecondUsd: 0.0000133334,
  /** Lambda duration on x86_64, per GB-second, first 6 billion GB-s a month. */
  lambdaX86GbSecondUsd: 0.0000166667,
  /** Step Functions Standard, per state transition. */
  stepFunctionsTransitionUsd: 0.025 / 1_000,
  /** CloudWatch API requests (PutMetricData among them), per request. */
  cloudWatchRequestUsd: 0.01 / 1_000,
  /** CloudWatch custom metric, per metric-month (first 10,000 metrics), prorated by the hour it receives data. */
  customMetricMonthUsd: 0.3,
  /** CloudWatch alarm, standard resolution (period ≥ 60 s), per metric in the alarm per month. */
  alarmStandardMetricMonthUsd: 0.1,
  /** CloudWatch alarm, high resolution (period < 60 s), per metric in the alarm per month. */
  alarmHighResolutionMetricMonthUsd: 0.3,
  /** CloudWatch dashboard, per dashboard-month (the first 3 of an account are free). */
  dashboardMonthUsd: 3,
  /** CloudWatch Logs ingestion (Standard class; Lambda logs, first tier), per GB. */
  logsIngestionGbUsd: 0.5,
  /** CloudWatch Logs storage, per GB-month. */
  logsStorageGbMonthUsd: 0.03,
  /** SQS standard queue, per request (each 64 KB chunk of a payload is one request). */
  sqsRequestUsd: 0.4 / 1_000_000,
} as const;

/** Where each price is published. */
export const PRICE_SOURCES: Readonly<Record<keyof typeof PRICES, string>> = {
  lambdaRequestUsd: 'https://aws.amazon.com/lambda/pricing/',
  lambdaArm64GbSecondUsd: 'https://aws.amazon.com/lambda/pricing/',
  lambdaX86GbSecondUsd: 'https://aws.amazon.com/lambda/pricing/',
  stepFunctionsTransitionUsd: 'https://aws.amazon.com/step-functions/pricing/',
  cloudWatchRequestUsd: 'https://aws.amazon.com/cloudwatch/pricing/',
  customMetricMonthUsd: 'https://aws.amazon.com/cloudwatch/pricing/',
  alarmStandardMetricMonthUsd: 'https://aws.amazon.com/cloudwatch/pricing/',
  alarmHighResolutionMetricMonthUsd: 'https://aws.amazon.com/cloudwatch/pricing/',
  dashboardMonthUsd: 'https://aws.amazon.com/cloudwatch/pricing/',
  logsIngestionGbUsd: 'https://aws.amazon.com/cloudwatch/pricing/',
  logsStorageGbMonthUsd: 'https://aws.amazon.com/cloudwatch/pricing/',
  sqsRequestUsd: 'https://aws.amazon.com/sqs/pricing/',
};

/** The price table's type (tests pass their own). */
export type PriceTable = { readonly [K in keyof typeof PRICES]: number };

/** Hours in the billing month CloudWatch and this model use (365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;
