import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { envBool, envInt, loadConfig } from '../../lib/config.ts';
import { ConfigError } from '../../lib/errors.ts';
import { parseDataSizeBytes, parseDurationMs } from '../../lib/trino/units.ts';

describe('parseDurationMs (Airlift Duration)', () => {
  it.each([
    ['10ns', 1e-5],
    ['250.00us', 0.25],
    ['12ms', 12],
    ['1.50s', 1_500],
    ['1.50m', 90_000],
    ['2h', 7_200_000],
    ['1.00d', 86_400_000],
    [' 3.21m ', 192_600],
  ])('%s → %f ms', (text, ms) => {
    expect(parseDurationMs(text)).toBeCloseTo(ms, 6);
  });
  it.each(['', 'm', '1.5', '1.5 weeks', '-1s', 'abc'])('rejects %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe('parseDataSizeBytes (Airlift DataSize, powers of 1024)', () => {
  it.each([
    ['0B', 0],
    ['1.5kB', 1_536],
    ['12MB', 12 * 1024 ** 2],
    ['2GB', 2 * 1024 ** 3],
    ['1TB', 1024 ** 4],
    ['1PB', 1024 ** 5],
  ])('%s → %i bytes', (text, bytes) => {
    expect(parseDataSizeBytes(text)).toBe(bytes);
  });
  it.each(['', '12', '12 KB', '12mb', 'lots'])('rejects %j', (text) => {
    expect(parseDataSizeBytes(text)).toBeUndefined();
  });
});

describe('loadConfig', () => {
  const schema = z.object({
    CLUSTER_NAME: z.string().min(1),
    TIMEOUT_MS: envInt(100, 1_000).default(500),
    FLAG: envBool.default(false),
    OPTIONAL: z.string().optional(),
  });

  it('parses values and applies defaults', () => {
    expect(loadConfig(schema, { CLUSTER_NAME: 'prod', FLAG: '1' })).toEqual({
      CLUSTER_NAME: 'prod',
      TIMEOUT_MS: 500,
      FLAG: true,
    });
  });

  it('names a missing variable', () => {
    expect(() => loadConfig(schema, {})).toThrowError(ConfigError);
    expect(() => loadConfig(schema, {})).toThrowError('Configuration error: CLUSTER_NAME is not set');
  });

  it('treats an empty variable as unset', () => {
    expect(() => loadConfig(schema, { CLUSTER_NAME: '' })).toThrowError(/CLUSTER_NAME is not set/);
    expect(loadConfig(schema, { CLUSTER_NAME: 'x', OPTIONAL: '' }).OPTIONAL).toBeUndefined();
  });

  it('names an invalid variable without echoing its value', () => {
    const error = (() => {
      try {
        loadConfig(schema, { CLUSTER_NAME: 'x', TIMEOUT_MS: 'secret-looking-9999' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toMatch(/TIMEOUT_MS is invalid/);
    expect(JSON.stringify(error)).not.toContain('secret-looking');
    expect(String(error)).not.toContain('secret-looking');
  });

  it.each([
    ['99', 'below the minimum'],
    ['1001', 'above the maximum'],
    ['1.5', 'not an integer'],
  ])('rejects TIMEOUT_MS=%s (%s)', (value) => {
    expect(() => loadConfig(schema, { CLUSTER_NAME: 'x', TIMEOUT_MS: value })).toThrowError(
      /TIMEOUT_MS is invalid/,
    );
  });

  it('rejects a boolean that is not true/false/1/0', () => {
    expect(() => loadConfig(schema, { CLUSTER_NAME: 'x', FLAG: 'yes' })).toThrowError(/FLAG is invalid/);
  });
});
