/**
 * Global setup of the integration project: starts the real components once and shares them with every test
 * file through vitest's `provide`/`inject`: moto (AWS emulator) and a secure Trino cluster of the newest line
 * (HTTPS, password authentication, file-based access control, one worker). Tests reset moto themselves.
 */
import type { TestProject } from 'vitest/node';
import { startMoto } from '../../harness/moto.ts';
import { startTrinoCluster } from '../../harness/trino.ts';

/** Values shared with the integration tests. */
export interface SharedComponents {
  readonly motoEndpoint: string;
  readonly motoEnv: Record<string, string>;
  readonly trino: {
    readonly version: string;
    readonly coordinatorUrl: string;
    readonly workerUrls: string[];
    readonly user: string;
    readonly password?: string;
    readonly caPem?: string;
    /** Password of `analyst`, a user who may query but not read system information. */
    readonly otherPassword?: string;
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    components: SharedComponents;
  }
}

export default async function setup(project: TestProject) {
  const moto = await startMoto();
  const cluster = await startTrinoCluster({ line: 'newest', workers: 1, secure: true, name: 'it' });
  project.provide('components', {
    motoEndpoint: moto.endpoint,
    motoEnv: { ...moto.env },
    trino: {
      version: cluster.version,
      coordinatorUrl: cluster.coordinatorUrl,
      workerUrls: [...cluster.workerUrls],
      user: cluster.user,
      ...(cluster.password === undefined ? {} : { password: cluster.password }),
      ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
      ...(cluster.otherUser.password === undefined ? {} : { otherPassword: cluster.otherUser.password }),
    },
  });
  return async () => {
    await cluster.stop();
    await moto.stop();
  };
}
