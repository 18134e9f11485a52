import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder in front of the replicas, standing in for a load balancer: each new connection goes
 * to the port it routes to now; when either side of a connection goes, so does the other.
 */
export interface TcpProxy {
  port: number;
  routeTo(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(upstreamPort: number): Promise<TcpProxy> {
  let upstream = upstreamPort;
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const target = createConnection({ host: '127.0.0.1', port: upstream });
    for (const socket of [downstream, target]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        downstream.destroy();
        target.destroy();
      });
    }
    downstream.pipe(target);
    target.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    routeTo: (port) => (upstream = port),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
