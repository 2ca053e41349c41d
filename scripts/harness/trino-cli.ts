/**
 * Test infrastructure CLI:
 *   npx tsx scripts/harness/trino-cli.ts fetch [newest|older|all]   download + verify + install (CI pre-fetch)
 *   npx tsx scripts/harness/trino-cli.ts start [--line newest|older] [--secure] [--workers N]
 * `start` prints the cluster as JSON (credentials included: a throwaway local cluster) and runs until Ctrl-C.
 */
import { ensureTrino, startTrinoCluster, type TrinoLine } from './trino.ts';

const [command = 'help', ...rest] = process.argv.slice(2);
const flag = (name: string) => rest.includes(name);
const value = (name: string) => {
  const index = rest.indexOf(name);
  return index >= 0 ? rest[index + 1] : undefined;
};
const asLine = (text: string | undefined): TrinoLine => (text === 'older' ? 'older' : 'newest');

if (command === 'fetch') {
  const which = rest[0] ?? 'all';
  const lines: TrinoLine[] = which === 'all' ? ['newest', 'older'] : [asLine(which)];
  for (const line of lines) {
    const install = await ensureTrino(line);
    process.stderr.write(
      `trino-harness: ${line} line Trino ${install.version} ready in ${install.home} (java ${install.javaHome})\n`,
    );
  }
} else if (command === 'start') {
  const cluster = await startTrinoCluster({
    line: asLine(value('--line')),
    secure: flag('--secure'),
    workers: Number(value('--workers') ?? '1'),
    name: 'cli',
  });
  process.stdout.write(
    `${JSON.stringify(
      {
        version: cluster.version,
        coordinatorUrl: cluster.coordinatorUrl,
        coordinatorHttpUrl: cluster.coordinator.httpUrl,
        workerUrls: cluster.workerUrls,
        user: cluster.user,
        password: cluster.password,
        caFile: cluster.caPem ? `${cluster.dir}/ca.pem` : undefined,
        dir: cluster.dir,
      },
      null,
      2,
    )}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await cluster.stop();
} else {
  process.stderr.write(
    'usage: trino-cli.ts fetch [newest|older|all] | start [--line newest|older] [--secure] [--workers N]\n',
  );
  process.exitCode = 2;
}
