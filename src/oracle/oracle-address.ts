import { InvalidInputError } from '../errors.js';

/** `host:port` or `[v6]:port`: a name or IPv4 address of letters, digits, `.`, `-`, `_`; port 1-65535. */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/**
 * Checks an oracle address before anything is dialled. gRPC would accept
 * far more (a missing port means 443, `http://...` is taken for a DNS
 * name and times out), none of which reaches an oracle.
 */
export function checkOracleAddress(address: unknown): string {
  if (typeof address === 'string') {
    const match = HOST_PORT.exec(address);
    const port = Number(match?.[1]);
    if (match && port >= 1 && port <= 65535) return address;
  }
  throw new InvalidInputError(`oracle address must be host:port (e.g. 127.0.0.1:7070 or [::1]:7070), got ${JSON.stringify(address)}${why(address)}`);
}

function why(address: unknown): string {
  if (typeof address !== 'string') return '';
  if (address.includes('://') || /^[a-z]+:\//i.test(address)) return ': no scheme, just host:port';
  if (!/:\d+$/.test(address)) return ': the port is missing (there is no default port)';
  return '';
}

/** True for a leader hint that can be dialled; anything else from a server is ignored. */
export function isOracleAddress(address: string): boolean {
  try {
    checkOracleAddress(address);
    return true;
  } catch {
    return false;
  }
}
