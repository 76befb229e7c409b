import net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that accepts connections and never answers: what
 * a client sees of a stuck oracle (as opposed to a closed port, which
 * refuses the connection at once).
 */
export async function silentListener(port = 0): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
