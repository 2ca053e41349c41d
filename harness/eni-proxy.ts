/**
 * Test infrastructure (sandbox and HA tests only): the coordinator ENI's address, simulated on loopback. A TCP
 * forwarding proxy whose traffic follows whichever instance moto says holds the ENI: it polls
 * `DescribeNetworkInterfaces` and forwards each new connection to the local Trino coordinator that plays that
 * instance. When the attachment changes (detach, attach elsewhere) every open connection is cut, as moving a real
 * ENI cuts them, and while the ENI is unattached connections are refused. Nothing in production uses this: on AWS
 * the address moves with the ENI.
 *
 * @module
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import type { EmulatorClientConfig } from './moto.ts';

/** One forwarded port: the proxy listens on a free loopback port and forwards to `targetPort(holder)`. */
export interface EniProxyRoute {
  /** e.g. `http` (Trino's internal/worker port) or `https` (clients). */
  readonly name: string;
  /** Loopback port of the coordinator playing `instanceId`, or undefined (connection refused). */
  readonly targetPort: (instanceId: string) => number | undefined;
}

/** A running ENI proxy. */
export interface EniProxy {
  /** Listening port per route name. */
  readonly ports: Readonly<Record<string, number>>;
  /** The instance holding the ENI at the last poll (undefined: not attached). */
  holder(): string | undefined;
  /** Holder changes seen (each an ENI move or detach), with the time (epoch ms). */
  readonly changes: readonly { readonly atMs: number; readonly holder: string | undefined }[];
  stop(): Promise<void>;
}

/**
 * Starts the proxy.
 * @param options.pollMs - How often moto is asked who holds the ENI (default 200 ms).
 * @throws Error when moto does not know the ENI.
 */
export async function startEniProxy(options: {
  readonly aws: EmulatorClientConfig;
  readonly networkInterfaceId: string;
  readonly routes: readonly EniProxyRoute[];
  readonly pollMs?: number;
}): Promise<EniProxy> {
  const ec2 = new EC2Client(options.aws);
  const sockets = new Set<Socket>();
  const changes: { atMs: number; holder: string | undefined }[] = [];
  let holder: string | undefined;
  const poll = async () => {
    const out = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [options.networkInterfaceId] }),
    );
    const attachment = out.NetworkInterfaces?.[0]?.Attachment;
    const now = attachment?.Status === 'attached' ? attachment.InstanceId : undefined;
    if (now !== holder) {
      holder = now;
      changes.push({ atMs: Date.now(), holder });
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    }
  };
  await poll();
  let polling = true;
  const loop = (async () => {
    while (polling) {
      await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
      if (polling) await poll().catch(() => undefined);
    }
  })();

  const servers: Server[] = [];
  const ports: Record<string, number> = {};
  for (const route of options.routes) {
    const server = createServer((client) => {
      const target = holder === undefined ? undefined : route.targetPort(holder);
      if (target === undefined) {
        client.destroy();
        return;
      }
      const upstream = tcpConnect(target, '127.0.0.1');
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    ports[route.name] = typeof address === 'object' && address !== null ? address.port : 0;
    servers.push(server);
  }

  return {
    ports,
    holder: () => holder,
    changes,
    stop: async () => {
      polling = false;
      await loop;
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
      ec2.destroy();
    },
  };
}
