/**
 * A loopback port whose connects hang: a listening socket that never accepts, its backlog already
 * full, so the kernel drops further SYNs. Node cannot listen without accepting, so a python3 child
 * holds the socket; the connect timeout is then exercised on a real socket, not a mock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { once } from 'node:events';

export interface Blackhole {
  port: number;
  close(): Promise<void>;
}

const SCRIPT = `
import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;

export async function startBlackhole(): Promise<Blackhole> {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  // Fill the accept queue (with backlog 0 Linux admits one) so later SYNs are dropped.
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 1; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    await once(s, 'connect');
  }
  return {
    port,
    close: async () => {
      for (const s of fillers) s.destroy();
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}
