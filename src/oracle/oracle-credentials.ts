import { credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { InvalidInputError } from '../errors.js';

/** TLS to the oracle, PEM contents: `ca` to trust a private CA; `cert` + `key` for mutual TLS. */
export interface OracleTlsOptions {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
}

const TLS_KEYS = new Set(['ca', 'cert', 'key']);

/**
 * Checks the token and TLS options of an oracle client and makes the
 * channel credentials. An empty token is refused: it would silently mean
 * "no authentication". TLS without a CA trusts the system's roots.
 */
export function oracleChannelCredentials(token: unknown, tls: unknown): ChannelCredentials {
  if (token !== undefined && (typeof token !== 'string' || token.trim() === '')) {
    throw new InvalidInputError('oracle token must be a non-empty string (omit it for an oracle without --token)');
  }
  if (tls === undefined) return grpcCredentials.createInsecure();
  if (tls === null || typeof tls !== 'object' || Array.isArray(tls)) throw new InvalidInputError('oracle tls must be an object { ca, cert, key } of PEM contents');
  const unknown = Object.keys(tls).filter((key) => !TLS_KEYS.has(key));
  if (unknown.length > 0) throw new InvalidInputError(`unknown oracle tls option ${unknown.join(', ')} (options: ca, cert, key)`);
  const { ca, cert, key } = tls as Record<string, unknown>;
  for (const [name, value] of Object.entries({ ca, cert, key })) {
    if (value !== undefined && typeof value !== 'string' && !Buffer.isBuffer(value)) {
      throw new InvalidInputError(`oracle tls.${name} must be PEM contents (string or Buffer), not a ${typeof value}`);
    }
  }
  if ((cert === undefined) !== (key === undefined)) throw new InvalidInputError('oracle tls.cert and tls.key go together (the client certificate and its private key)');
  return grpcCredentials.createSsl(pem(ca), pem(key), pem(cert));
}

function pem(value: unknown): Buffer | null {
  if (value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : (value as Buffer);
}
