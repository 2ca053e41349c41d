/**
 * TEST FIXTURE (not shipped code, not a double of anything): a tiny ESM Lambda function for the deployed-topology
 * tests, used where no shipped function can be made to sleep, fail with a chosen error name, or report its own
 * environment on demand. It imports `@aws-sdk/client-ssm`, which the runtime folder provides (as the nodejs22.x
 * runtime provides the SDK).
 *
 * Event: `{ sleepMs?, fail?: { name, message }, parameter? }` → `{ requestId, remainingMs, env, parameter, addresses }`
 * (`addresses`: the IP addresses of the network namespace it runs in).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** The fixture's `index.mjs` (handler `index.handler`). */
export const FIXTURE_SOURCE = `
import { networkInterfaces } from 'node:os';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
const ssm = new SSMClient({});
export const handler = async (event, context) => {
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  if (event.fail) { const error = new Error(event.fail.message); error.name = event.fail.name; throw error; }
  const keys = ['AWS_ACCESS_KEY_ID', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AWS_EXECUTION_ENV', 'AWS_REGION',
    'AWS_DEFAULT_REGION', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'TZ', 'LAMBDA_TASK_ROOT',
    '_HANDLER', 'FIXTURE_VARIABLE'];
  const env = Object.fromEntries(keys.map((key) => [key, process.env[key] ?? null]));
  const parameter = event.parameter
    ? (await ssm.send(new GetParameterCommand({ Name: event.parameter }))).Parameter?.Value ?? null
    : null;
  const addresses = Object.values(networkInterfaces()).flat().map((a) => a.address);
  return { requestId: context.awsRequestId, remainingMs: context.getRemainingTimeInMillis(), env, parameter, addresses };
};
`;

/**
 * Zips {@link FIXTURE_SOURCE} as `index.mjs` with the `zip` tool (deterministic: `-X`).
 * @returns The zip bytes.
 * @throws Error when `zip` is missing or fails.
 */
export async function buildFixtureZip(): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lambda-fixture-'));
  try {
    await writeFile(path.join(dir, 'index.mjs'), FIXTURE_SOURCE);
    await promisify(execFile)('zip', ['-q', '-X', 'fixture.zip', 'index.mjs'], { cwd: dir });
    return await readFile(path.join(dir, 'fixture.zip'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
