/**
 * Parsers for Airlift's string units used throughout Trino's JSON: `Duration` (e.g. `"1.50m"`) and
 * `DataSize` (e.g. `"12.5MB"`). Pure functions.
 *
 * Sources: io.airlift.units.Duration#valueOf (units ns, us, ms, s, m, h, d) and io.airlift.units.DataSize#valueOf
 * (units B, kB, MB, GB, TB, PB; powers of 1024).
 *
 * @module
 */

const DURATION_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DATA_SIZE_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
  PB: 1024 ** 5,
};

const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/;

/**
 * Parses an Airlift duration string into milliseconds.
 * @param value - e.g. `"1.50m"`, `"250.00ms"`, `"3.21h"`.
 * @returns Milliseconds, or `undefined` when the string is not a duration.
 * @example parseDurationMs('1.50m') // 90000
 */
export function parseDurationMs(value: string): number | undefined {
  const match = PATTERN.exec(value);
  const factor = match?.[2] === undefined ? undefined : DURATION_MS[match[2]];
  if (match?.[1] === undefined || factor === undefined) return undefined;
  return Number(match[1]) * factor;
}

/**
 * Parses an Airlift data size string into bytes.
 * @param value - e.g. `"12.5MB"`, `"0B"`.
 * @returns Bytes (rounded to an integer), or `undefined` when the string is not a data size.
 * @example parseDataSizeBytes('1.5kB') // 1536
 */
export function parseDataSizeBytes(value: string): number | undefined {
  const match = PATTERN.exec(value);
  const factor = match?.[2] === undefined ? undefined : DATA_SIZE_BYTES[match[2]];
  if (match?.[1] === undefined || factor === undefined) return undefined;
  return Math.round(Number(match[1]) * factor);
}
