import net from 'node:net';

export interface TcpRelay {
  /** The relay's own port on 127.0.0.1. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A TCP relay on 127.0.0.1 to `target`, forwarding every byte untouched
 * (`tap()`, called once per connection, sees what that client sends). Put in front of a server for one
 * client, it gives that client's path to the server a port of its own, which
 * a network partition can cut without cutting anyone else.
 */
export async function startTcpRelay(target: { host: string; port: number }, tap?: () => (chunk: Buffer) => void): Promise<TcpRelay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    if (tap) client.on('data', tap());
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
