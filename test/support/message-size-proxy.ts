import { startTcpRelay } from './tcp-relay.js';

export interface MessageSizeProxy {
  /** The shard's URL with the proxy's address in place of the server's. */
  readonly url: string;
  /** The longest message the client sent to the server so far, by message type ('B' bind, 'P' parse, 'Q' query, ...), in bytes. */
  readonly largest: Map<string, number>;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a Postgres server that forwards every byte
 * untouched and measures the frontend messages going through (each is a
 * type byte and a 32-bit length, after the untyped startup message): how
 * large the statements the client sends really are.
 */
export async function startMessageSizeProxy(serverUrl: string): Promise<MessageSizeProxy> {
  const target = new URL(serverUrl);
  const largest = new Map<string, number>();
  const relay = await startTcpRelay({ host: target.hostname, port: Number(target.port) }, () => frontendMeter(largest));
  const url = new URL(serverUrl);
  url.hostname = '127.0.0.1';
  url.port = String(relay.port);
  return { url: url.toString(), largest, close: () => relay.close() };
}

/** Follows the frontend message stream across chunk boundaries. */
function frontendMeter(largest: Map<string, number>): (chunk: Buffer) => void {
  let startup = true;
  let header = Buffer.alloc(0);
  let skip = 0;
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        continue;
      }
      const headerSize = startup ? 4 : 5;
      const need = headerSize - header.length;
      header = Buffer.concat([header, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (header.length < headerSize) return;
      const type = startup ? 'startup' : String.fromCharCode(header[0]!);
      const length = header.readInt32BE(startup ? 0 : 1);
      largest.set(type, Math.max(largest.get(type) ?? 0, length));
      skip = length - 4;
      startup = false;
      header = Buffer.alloc(0);
    }
  };
}
