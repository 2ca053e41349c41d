/**
 * **Trino doubles** for the fault matrix (harness/drills/faults.ts) — test infrastructure, not Trino. Small loopback
 * HTTP servers answering, with the bodies recorded from a real Trino 476 (`test/fixtures/trino-476/`), the paths the
 * failover and drain tasks read: `GET /v1/info`, `/v1/node`, `/v1/info/state`, `/v1/status`, `PUT /v1/info/state`, and
 * `GET /v1/task` refused with 401 as Trino refuses an outside caller (INTERNAL_ONLY). The real-Trino runs are the
 * integration tests and the deployed drills; these doubles keep each matrix case to a second or two.
 *
 * Each double plays one EC2 instance (its port is the instance's `trino-sentinel:http-port` tag) and answers only
 * while the instance is `running` in moto and its process is `up`: a `hung` process accepts connections and never
 * answers (a confirmed-failed coordinator that is not known dead), a `dead` one resets every connection. The ENI
 * address is one more listener that answers as whichever instance moto says holds the coordinator ENI.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DescribeInstancesCommand, DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { type EmulatorClientConfig, REPO_ROOT } from '../moto.ts';

/** What every report of the matrix says the Trino side is. */
export const TRINO_DOUBLE_LABEL =
  'Trino doubles: recorded Trino 476 responses on loopback (harness/drills/fault-doubles.ts), not a real cluster';

/** A node's process: answering, accepting but never answering, or gone. */
export type ProcessState = 'up' | 'hung' | 'dead';

const fixture = (name: string) =>
  readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'trino-476', name), 'utf8').trim();

/** One node double. */
interface NodeDouble {
  readonly instanceId: string;
  readonly role: 'coordinator' | 'worker';
  readonly port: number;
  process: ProcessState;
  /** Whether the instance exists in moto (its state then decides whether the process can answer). */
  readonly inEc2: boolean;
  /** The worker's node state (`ACTIVE`, `DRAINING`, `DRAINED`, `SHUTTING_DOWN`). */
  nodeState: string;
  /** GETs of `/v1/info/state` since DRAINING was requested. */
  drainingReads: number;
}

/** The running doubles of one case. */
export interface TrinoDoubles {
  /** Starts a node double playing `instanceId`. @returns Its loopback port. */
  addNode(
    instanceId: string,
    role: 'coordinator' | 'worker',
    process: ProcessState,
    inEc2?: boolean,
  ): Promise<number>;
  setProcess(instanceId: string, process: ProcessState): void;
  /** The ENI address's base URL (`http://127.0.0.1:<port>`), answering as the ENI's holder. */
  readonly eniUrl: string;
  /** Whether a coordinator answers `GET /v1/info` through the ENI address now (timeout 1 s). */
  serves(): Promise<boolean>;
  /** A worker's node state as the double holds it. */
  nodeState(instanceId: string): string | undefined;
  close(): Promise<void>;
}

/**
 * Starts the ENI listener; node doubles are added per instance.
 * @param aws - moto's client configuration (holder and instance state are read from it, never through the
 *   instrumented clients of the functions).
 */
export async function startTrinoDoubles(
  aws: EmulatorClientConfig,
  networkInterfaceId: string | undefined,
): Promise<TrinoDoubles> {
  const ec2 = new EC2Client(aws);
  const nodes = new Map<string, NodeDouble>();
  const servers: http.Server[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const coordinatorInfo = fixture('v1-info.json');
  const workerInfo = fixture('worker-v1-info.json');
  const nodeList = fixture('v1-node.json');
  const workerStatus = fixture('worker-v1-status.json');

  const running = async (instanceId: string): Promise<boolean> => {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return out.Reservations?.[0]?.Instances?.[0]?.State?.Name === 'running';
  };

  const serve = async (node: NodeDouble | undefined, req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = await new Promise<string>((resolve) => {
      let text = '';
      req.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      req.on('end', () => resolve(text));
    });
    if (node === undefined || node.process === 'dead' || (node.inEc2 && !(await running(node.instanceId)))) {
      req.socket.destroy();
      return;
    }
    if (node.process === 'hung') return; // accepted, never answered
    const send = (status: number, text: string) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/v1/info') {
      send(200, node.role === 'coordinator' ? coordinatorInfo : workerInfo);
    } else if (req.method === 'GET' && url === '/v1/node' && node.role === 'coordinator') {
      send(200, nodeList);
    } else if (req.method === 'GET' && url === '/v1/status') {
      send(200, workerStatus);
    } else if (req.method === 'GET' && url === '/v1/info/state') {
      if (node.nodeState === 'DRAINING') {
        node.drainingReads += 1;
        if (node.drainingReads >= 2) node.nodeState = 'DRAINED';
      }
      send(200, JSON.stringify(node.nodeState));
    } else if (req.method === 'PUT' && url === '/v1/info/state' && node.role === 'worker') {
      const wanted = body.trim().replace(/^"|"$/g, '');
      if (!['ACTIVE', 'DRAINING', 'SHUTTING_DOWN'].includes(wanted)) {
        send(400, JSON.stringify({ message: `Invalid state transition to ${wanted}` }));
        return;
      }
      if (wanted === 'DRAINING' && node.nodeState === 'DRAINED') {
        // Trino keeps DRAINED on a repeated DRAINING request.
      } else node.nodeState = wanted;
      node.drainingReads = 0;
      res.writeHead(200, { 'content-length': 0 });
      res.end();
      if (wanted === 'SHUTTING_DOWN') node.process = 'dead'; // no tasks: the process exits
    } else if (req.method === 'GET' && url.startsWith('/v1/task')) {
      send(401, '{"message":"Unauthorized"}');
    } else {
      send(404, '{"message":"not served by the Trino doubles"}');
    }
  };

  const listen = async (handler: http.RequestListener): Promise<number> => {
    const server = http.createServer(handler);
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    servers.push(server);
    return (server.address() as AddressInfo).port;
  };

  const fail = (req: http.IncomingMessage) => () => req.socket.destroy();
  const eniPort = await listen((req, res) => {
    void (async () => {
      if (networkInterfaceId === undefined) return req.socket.destroy();
      const out = await ec2.send(
        new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [networkInterfaceId] }),
      );
      const attachment = out.NetworkInterfaces?.[0]?.Attachment;
      const holder = attachment?.Status === 'attached' ? attachment.InstanceId : undefined;
      await serve(holder === undefined ? undefined : nodes.get(holder), req, res);
    })().catch(fail(req));
  });
  const eniUrl = `http://127.0.0.1:${eniPort}`;

  return {
    eniUrl,
    async addNode(instanceId, role, process, inEc2 = true) {
      const port = await listen((req, res) => {
        serve(nodes.get(instanceId), req, res).catch(fail(req));
      });
      nodes.set(instanceId, {
        instanceId,
        role,
        port,
        process,
        inEc2,
        nodeState: 'ACTIVE',
        drainingReads: 0,
      });
      return port;
    },
    setProcess(instanceId, process) {
      const node = nodes.get(instanceId);
      if (node !== undefined) node.process = process;
    },
    async serves() {
      try {
        const response = await fetch(`${eniUrl}/v1/info`, {
          headers: { 'X-Trino-User': 'sentinel' },
          signal: AbortSignal.timeout(1_000),
        });
        if (!response.ok) return false;
        const info: unknown = await response.json();
        return (
          typeof info === 'object' && info !== null && 'coordinator' in info && info.coordinator === true
        );
      } catch {
        return false;
      }
    },
    nodeState(instanceId) {
      return nodes.get(instanceId)?.nodeState;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      ec2.destroy();
    },
  };
}
