/**
 * Test infrastructure: runs the deployed topology and its drills from a host process. Creates the run's outer
 * network namespace (no link to any host interface), starts deployed-main.ts inside it through `ip netns exec` and
 * tsx, relays its log lines, reads its JSON result and removes the run (namespaces, processes, state).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../moto.ts';
import { ensureSearchEngine } from '../search-engine.ts';
import { buildImageRoot } from './ami.ts';
import type { DeployedSnapshot } from './deployed-drills.ts';
import type { DeployedDrillName, DeployedRunResult } from './deployed-types.ts';
import { TOPOLOGY_TRINO_VERSION } from './deployed-types.ts';
import { ensureLambdaRuntime } from './lambda-runtime.ts';
import { createOuterNamespace } from './netns.ts';

/** Options of {@link runDeployed}. */
export interface RunDeployedOptions {
  /** Drills in order (a drill may repeat, e.g. two failovers in a row). */
  readonly drills: readonly DeployedDrillName[];
  /** Workers the worker group starts with (default 2). */
  readonly workers?: number;
  /** Receives every log line of the topology (default: stderr). */
  readonly log?: (line: string) => void;
  /** Take a snapshot of the deployed cluster once it serves (see deployed-drills.ts `deployedSnapshot`). */
  readonly snapshot?: boolean;
  /**
   * Live view: after the drills, print a snapshot every `live.intervalSeconds` to `live.onSnapshot` until this
   * process gets SIGINT or SIGTERM (passed on to the topology, which then takes everything down).
   */
  readonly live?: {
    readonly intervalSeconds: number;
    readonly onSnapshot: (snapshot: DeployedSnapshot) => void;
  };
  /** Queries of the query-logs drill (default 20). */
  readonly queries?: number;
  /** When the failover drill hangs the coordinator (default `ready`; see deployed-drills.ts). */
  readonly hangAt?: 'ready' | 'random';
  /** Deadline of the whole run, ms (default 45 min); the child is killed past it. */
  readonly timeoutMs?: number;
}

/**
 * Brings the deployed topology up in a new outer namespace, runs the drills, takes it down.
 * @returns What the run wrote (each drill's figures, timings, or the error that ended it).
 * @throws Error when the namespace cannot be created (not root), or the child wrote no result.
 */
export async function runDeployed(options: RunDeployedOptions): Promise<DeployedRunResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Everything downloaded here, on the host: the outer namespace has no route anywhere.
  await ensureSearchEngine('opensearch');
  await ensureLambdaRuntime(log);
  await buildImageRoot({ trinoVersion: TOPOLOGY_TRINO_VERSION, log });
  const run = await createOuterNamespace({ log });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trino-sentinel-deployed-'));
  const out = path.join(dir, 'result.json');
  try {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        run.outer,
        process.execPath,
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'harness/cloud/deployed-main.ts'),
        '--prefix',
        run.prefix,
        '--out',
        out,
        '--drills',
        options.drills.join(','),
        '--workers',
        String(options.workers ?? 2),
        '--queries',
        String(options.queries ?? 20),
        '--hang-at',
        options.hangAt ?? 'ready',
        ...(options.snapshot ? ['--snapshot'] : []),
        ...(options.live ? ['--live', String(options.live.intervalSeconds)] : []),
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const relay = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line !== '') log(line);
    };
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('SNAPSHOT ') && options.live) options.live.onSnapshot(JSON.parse(line.slice(9)));
        else if (line !== '') log(line);
      }
    });
    child.stderr.on('data', relay);
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 45 * 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    const text = await readFile(out, 'utf8').catch(() => undefined);
    if (text === undefined) throw new Error(`the deployed topology wrote no result (exit ${code})`);
    const parsed: DeployedRunResult = JSON.parse(text);
    return parsed;
  } finally {
    await run.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}
