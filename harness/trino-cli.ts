/**
 * Test infrastructure CLI:
 *   npx tsx harness/trino-cli.ts fetch [newest|older|prestodb|all]   download + verify + install (CI pre-fetch)
 *   npx tsx harness/trino-cli.ts start [--line newest|older|prestodb] [--secure] [--workers N]
 * `start` prints the cluster as JSON on stdout (credentials included: a throwaway local cluster), stays in the
 * foreground until Ctrl-C (SIGINT) or SIGTERM, then stops every JVM and removes the cluster's directory.
 * @module
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureLine, HARNESS_LINES, type HarnessLine, startCluster } from './cluster.ts';

const USAGE =
  'usage: trino-cli.ts fetch [newest|older|prestodb|all] | start [--line newest|older|prestodb] [--secure] [--workers N]\n';
const [command = 'help', ...rest] = process.argv.slice(2);
const flag = (name: string) => rest.includes(name);
const value = (name: string) => {
  const index = rest.indexOf(name);
  return index >= 0 ? rest[index + 1] : undefined;
};
const fail = (message: string): never => {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(2);
};
const asLine = (text: string): HarnessLine =>
  HARNESS_LINES.find((line) => line === text) ?? fail(`unknown release line: ${text}`);

if (command === 'fetch') {
  const which = rest[0] ?? 'all';
  const lines: HarnessLine[] = which === 'all' ? [...HARNESS_LINES] : [asLine(which)];
  for (const line of lines) {
    const install = await ensureLine(line);
    process.stderr.write(
      `trino-harness: ${line} line ${install.version} ready in ${install.home} (java ${install.javaHome})\n`,
    );
  }
} else if (command === 'start') {
  const workers = Number(value('--workers') ?? '1');
  if (!Number.isInteger(workers) || workers < 0)
    fail(`--workers must be a whole number, got ${value('--workers')}`);
  // Stop cleanly on Ctrl-C, also while the cluster is still starting (the start-up wait is aborted).
  const abort = new AbortController();
  const interrupt = new Promise<void>((resolve) => {
    const onSignal = () => {
      abort.abort();
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const cluster = await startCluster({
    line: asLine(value('--line') ?? 'newest'),
    secure: flag('--secure'),
    workers,
    name: 'cli',
    signal: abort.signal,
  });
  const caFile = cluster.caPem ? path.join(cluster.dir, 'ca.pem') : undefined;
  if (cluster.caPem && caFile) writeFileSync(caFile, cluster.caPem);
  process.stdout.write(
    `${JSON.stringify(
      {
        line: cluster.line,
        version: cluster.version,
        secure: cluster.secure,
        coordinatorUrl: cluster.coordinatorUrl,
        coordinatorHttpUrl: cluster.coordinatorHttpUrl,
        workerUrls: cluster.workerUrls,
        nodeIds: cluster.nodeIds,
        pids: cluster.pids,
        user: cluster.user,
        password: cluster.password,
        otherUser: cluster.otherUser,
        caFile,
        dir: cluster.dir,
      },
      null,
      2,
    )}\n`,
  );
  await interrupt;
  process.stderr.write('trino-harness: stopping\n');
  await cluster.stop();
} else {
  fail(`unknown command: ${command}`);
}
