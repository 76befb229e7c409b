import { InvalidInputError } from '../errors.js';
import { checkOracleAddress } from '../oracle/oracle-address.js';
import type { OracleClientOptions } from '../oracle/oracle-client.js';
import { oracleChannelCredentials, type OracleTlsOptions } from '../oracle/oracle-credentials.js';
import type { TimestampSource } from '../oracle/timestamp-source.js';
import { splitHostPort } from '../oracle/host-port.js';
import { isLoopback } from '../oracle/security-posture.js';

/** How percolator() reaches an oracle that requires a token and/or TLS. */
export interface OracleConnectOptions {
  /** host:port of every oracle process (leader and standbys). */
  addresses: readonly string[];
  /** The oracle's bearer token (`percolator oracle --token`, `--token-file`, `PERCOLATOR_ORACLE_TOKEN`). */
  token?: string;
  /** PEM contents: `ca` to trust the oracle's CA; `cert` + `key` when it requires client certificates (`--tls-ca`). */
  tls?: OracleTlsOptions;
}

/** `['host:port', ...]`, `{ addresses, token, tls }`, or your own TimestampSource. */
export type OracleOption = readonly string[] | OracleConnectOptions | TimestampSource;

const CONNECT_KEYS = new Set(['addresses', 'token', 'tls']);
const SHAPES = "oracle must be ['host:port', ...], { addresses, token?, tls? } or a TimestampSource";

/**
 * Checks percolator()'s `oracle` option before anything is dialled: the
 * client options to build an oracle client from, or the caller's own source.
 */
export function resolveOracleOption(oracle: unknown): { client: Pick<OracleClientOptions, 'addresses' | 'token' | 'tls'> } | { source: TimestampSource } {
  if (Array.isArray(oracle)) return { client: { addresses: checkAddresses(oracle) } };
  if (oracle === null || typeof oracle !== 'object') throw new InvalidInputError(SHAPES);
  if (typeof (oracle as TimestampSource).getTimestamp === 'function') return { source: oracle as TimestampSource };
  if (!('addresses' in oracle)) throw new InvalidInputError(SHAPES);
  const unknown = Object.keys(oracle).filter((key) => !CONNECT_KEYS.has(key));
  if (unknown.length > 0) throw new InvalidInputError(`unknown oracle option ${unknown.join(', ')} (options: addresses, token, tls)`);
  const { addresses, token, tls } = oracle as OracleConnectOptions;
  if (!Array.isArray(addresses)) throw new InvalidInputError('oracle.addresses must be a non-empty array of host:port addresses');
  oracleChannelCredentials(token, tls); // throws InvalidInputError on an empty token or bad TLS options
  return { client: { addresses: checkAddresses(addresses), token, tls } };
}

function checkAddresses(addresses: readonly unknown[]): string[] {
  if (addresses.length === 0) throw new InvalidInputError('oracle needs at least one host:port address');
  return addresses.map(checkOracleAddress);
}

/** Addresses a token would reach in clear text (no TLS, not loopback): percolator() warns about them. */
export function clearTextTokenAddresses(client: Pick<OracleClientOptions, 'addresses' | 'token' | 'tls'>): string[] {
  if (!client.token || client.tls) return [];
  return client.addresses.filter((address) => !isLoopback(splitHostPort(address).host));
}
