/**
 * Test infrastructure: the process that runs inside a run's outer network namespace (started by deployed.ts
 * `runDeployed`): joins the run, brings the deployed topology up, runs the requested drills in order, writes their
 * results as JSON to `--out`, and takes everything down.
 *
 * Usage (by deployed.ts only): `ip netns exec <prefix>-cloud node --import tsx deployed-main.ts --prefix <prefix>
 *   --out <file> --drills failover,failover,scale-in,query-logs [--workers 2] [--queries 20] [--snapshot] [--live <seconds>]
 *   [--hang-at ready|random]`
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  deployedSnapshot,
  runDeployedFailoverDrill,
  runDeployedQueryLogDrill,
  runDeployedScaleInDrill,
  TopologyProbe,
  waitForCluster,
} from './deployed-drills.ts';
import { DEPLOYED_DRILLS, type DeployedDrillName, type DeployedRunResult } from './deployed-types.ts';
import { joinRun } from './netns.ts';
import { startDeployedTopology } from './topology.ts';

const { values } = parseArgs({
  options: {
    prefix: { type: 'string' },
    out: { type: 'string' },
    drills: { type: 'string', default: '' },
    workers: { type: 'string', default: '2' },
    queries: { type: 'string', default: '20' },
    snapshot: { type: 'boolean', default: false },
    live: { type: 'string' },
    'hang-at': { type: 'string', default: 'ready' },
  },
});
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);

async function main(): Promise<number> {
  if (!values.prefix || !values.out) throw new Error('deployed-main needs --prefix and --out');
  const drills = values.drills
    .split(',')
    .filter((d) => d !== '')
    .map((d): DeployedDrillName => {
      const known = DEPLOYED_DRILLS.find((n) => n === d);
      if (!known) throw new Error(`unknown drill ${d} (known: ${DEPLOYED_DRILLS.join(', ')})`);
      return known;
    });
  const workers = Number(values.workers);
  const run = await joinRun({ prefix: values.prefix, log });
  const started = Date.now();
  const result: DeployedRunResult = { drills: [], timings: {} };
  try {
    const topology = await startDeployedTopology({ run, workers, log });
    result.timings.deployMs = topology.stacks.timings.totalMs;
    const probe = new TopologyProbe(topology);
    try {
      const ready = await waitForCluster(probe, { workers, log });
      result.timings.clusterReadyMs = Date.now() - started;
      result.ready = ready;
      if (values.snapshot) result.snapshot = await deployedSnapshot(probe, { log });
      if (values.live !== undefined) {
        // Live view: one snapshot line every interval until SIGINT/SIGTERM (the parent relays them).
        const intervalMs = Number(values.live) * 1_000;
        let stop = false;
        const stopNow = () => {
          stop = true;
        };
        process.once('SIGINT', stopNow);
        process.once('SIGTERM', stopNow);
        while (!stop) {
          process.stdout.write(
            `SNAPSHOT ${JSON.stringify(await deployedSnapshot(probe, { log, timeoutMs: 0 }))}\n`,
          );
          for (let waited = 0; waited < intervalMs && !stop; waited += 250)
            await new Promise((r) => setTimeout(r, 250));
        }
      }
      for (const drill of drills) {
        log(`deployed: drill ${drill}`);
        const drillStarted = Date.now();
        switch (drill) {
          case 'failover':
            result.drills.push({
              drill,
              tookMs: 0,
              result: await runDeployedFailoverDrill(probe, {
                workers,
                hangAt: values['hang-at'] === 'random' ? 'random' : 'ready',
                log,
              }),
            });
            break;
          case 'scale-in':
            result.drills.push({
              drill,
              tookMs: 0,
              result: await runDeployedScaleInDrill(probe, { workers, log }),
            });
            break;
          case 'query-logs':
            result.drills.push({
              drill,
              tookMs: 0,
              result: await runDeployedQueryLogDrill(probe, {
                workers,
                queries: Number(values.queries),
                log,
              }),
            });
            break;
        }
        const last = result.drills.at(-1);
        if (last) last.tookMs = Date.now() - drillStarted;
      }
    } finally {
      probe.close();
      await topology.stop();
    }
  } catch (error) {
    result.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`deployed: ${result.error}`);
  } finally {
    result.timings.totalMs = Date.now() - started;
    await writeFile(values.out, JSON.stringify(result, null, 2));
    await run.cleanup();
  }
  return result.error === undefined ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`deployed: ${String(error)}`);
    process.exit(2);
  },
);
