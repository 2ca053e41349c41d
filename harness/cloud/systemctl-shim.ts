/**
 * Test infrastructure for the local cloud: `systemctl` inside an instance. instance-runner.ts bind-mounts a small
 * script over /usr/bin/systemctl that runs this file with the runner's socket; the request goes to the runner, which
 * manages the instance's units (start, stop, restart, try-restart, kill, is-active, is-failed, is-enabled, status,
 * show, daemon-reload, enable/disable as no-ops), and its answer (output and exit status) comes back as systemctl's.
 * Unknown units fail as systemctl does (`Failed to start x.service: Unit x.service not found.`, exit 5).
 *
 * @module
 */
import { connect } from 'node:net';
import * as z from 'zod';

const Reply = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() });

const [socketPath, ...args] = process.argv.slice(2);
if (!socketPath) {
  process.stderr.write('systemctl shim: missing socket path\n');
  process.exit(1);
}
const socket = connect(socketPath);
let buffer = '';
const timer = setTimeout(() => {
  process.stderr.write('systemctl: no answer from the instance runner within 600 s\n');
  process.exit(1);
}, 600_000);
socket.on('connect', () => socket.write(`${JSON.stringify({ args })}\n`));
socket.on('data', (chunk: Buffer) => {
  buffer += chunk.toString();
});
socket.on('error', (error) => {
  process.stderr.write(`systemctl: System has not been booted with the instance runner (${error.message})\n`);
  process.exit(1);
});
socket.on('end', () => {
  clearTimeout(timer);
  const reply = Reply.parse(JSON.parse(buffer));
  process.stdout.write(reply.stdout);
  process.stderr.write(reply.stderr);
  process.exitCode = reply.code;
});
