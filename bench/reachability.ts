import net from 'node:net';
import type pg from 'pg';
import { InvalidInputError, OracleUnavailableError, ShardUnavailableError } from '../src/errors.js';
import { redactUrl } from '../src/redact.js';
import { connectToShard } from '../src/internal.js';
import { readProcStat } from './cpu-accounting.js';

const CONNECT_TIMEOUT_MS = 5000;

/**
 * Connects once to check that a server (shard number `name`, or the local
 * baseline's server)
 * answers, and, when it runs on this machine, finds its postmaster's pid
 * (the parent of our backend) so its CPU can be accounted. A multi-host
 * URL (a shard with standbys) is probed at its primary.
 */
export async function probePostgres(name: number | 'local', url: string): Promise<{ postmasterPid: number | undefined }> {
  let client: pg.Client | undefined;
  try {
    client = await connectToShard(url, { connectionTimeoutMillis: CONNECT_TIMEOUT_MS }, String(name));
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { postmasterPid: isLoopback(client.host) ? postmasterOf(rows[0]!.pid) : undefined };
  } catch (error) {
    if (name === 'local') throw new InvalidInputError(`the local baseline's Postgres (${redactUrl(url)}) is unreachable: ${(error as Error).message}`);
    throw new ShardUnavailableError(`${name} (${redactUrl(url)})`, { cause: error });
  } finally {
    await client?.end().catch(() => {});
  }
}

function postmasterOf(backendPid: number): number | undefined {
  const ppid = readProcStat(backendPid)?.ppid;
  return ppid !== undefined && ppid > 1 ? ppid : undefined;
}

/** `host`: the host the connection went to (node-postgres's `client.host`: a name, an address, or a Unix socket's directory). */
function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || host === '::1' || host === '' || host.startsWith('/');
}

/** Opens a TCP connection to the oracle's address; refuses with the address in the message. */
export function probeOracle(address: string): Promise<void> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const fail = (why: string): void => {
      socket.destroy();
      reject(new OracleUnavailableError(`oracle ${address} unreachable: ${why}`));
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => fail('timed out'));
    socket.once('error', (error) => fail(error.message));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
  });
}
