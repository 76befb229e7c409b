import { InvalidInputError } from '../errors.js';

export interface SecurityPosture {
  /** The host the gRPC server binds. */
  listenHost: string;
  tls: boolean;
  token: string | undefined;
  /** Accept plaintext on a non-loopback address (then only warned about). */
  insecure: boolean;
}

/**
 * What the oracle refuses to start with, and what it starts with but warns
 * about (the returned warnings). The oracle hands out the timestamps every
 * transaction's correctness rests on; running it open must be a choice.
 * 1. An empty token is refused: it would mean "no authentication" unnoticed.
 * 2. A non-loopback address without TLS is refused unless `insecure`
 *    (anyone on the network could take timestamps, or read the token).
 * 3. A token without TLS is warned about: it crosses the wire in clear text.
 */
export function checkSecurityPosture(posture: SecurityPosture): string[] {
  const { listenHost, tls, token, insecure } = posture;
  if (token !== undefined && token.trim() === '') {
    throw new InvalidInputError('the oracle token is empty: give a non-empty --token, --token-file or PERCOLATOR_ORACLE_TOKEN, or none at all');
  }
  const warnings: string[] = [];
  if (!tls && !isLoopback(listenHost)) {
    const exposure = token
      ? 'with a token but without TLS: the token crosses the network in clear text'
      : 'without TLS and without a token: anyone who reaches it can take timestamps';
    if (!insecure) {
      throw new InvalidInputError(
        `refusing to listen on ${listenHost || 'all interfaces'}, not a loopback address, ${exposure}; ` +
          'serve TLS (--tls-cert, --tls-key, --tls-ca) or pass --insecure to accept this',
      );
    }
    warnings.push(`WARNING: listening on ${listenHost || 'all interfaces'} (not loopback) ${exposure} (--insecure)`);
  } else if (!tls && token) {
    warnings.push('WARNING: the oracle requires a token but serves without TLS: the token travels in clear text (acceptable on loopback only)');
  }
  return warnings;
}

/** Loopback by its spelling (a name other than localhost is not trusted to resolve to loopback). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(bare) || bare === '::1' || bare === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(bare);
}
