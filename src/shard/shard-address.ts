import { InvalidInputError } from '../errors.js';

/**
 * Which server of a shard's hosts the engine may use, in libpq's words
 * (`target_session_attrs`): `read-write` (not in recovery, and
 * `transaction_read_only` off) or `primary` (not in recovery).
 */
export type ShardTarget = 'read-write' | 'primary';

/** A shard's connection URL, split into one URL per host. */
export interface ShardAddress {
  /** The URL as given (it holds the password: redact it before printing). */
  readonly url: string;
  /** One single-host URL per host, in the order given, without `target_session_attrs`: what node-postgres connects with. */
  readonly hostUrls: readonly string[];
  /** `host:port` of each (as written; no password), for messages; empty for a keyword/value string. */
  readonly hosts: readonly string[];
  /**
   * What a server must be before a connection to it is used. Undefined for
   * a single-host URL without `target_session_attrs`: connected to
   * unchecked, as always (a standby there fails writes with 25006).
   */
  readonly target: ShardTarget | undefined;
}

const SCHEME = /^(postgres(?:ql)?):\/\//i;
const TARGETS: Record<string, ShardTarget | 'any' | undefined> = { 'read-write': 'read-write', primary: 'primary', any: 'any' };

/**
 * Splits libpq's multi-host URL,
 * `postgres://user:password@h1:5432,h2:5432/db?target_session_attrs=read-write`,
 * into one URL per host (node-postgres accepts one host only). Several
 * hosts always mean "the one that is the primary now": `target_session_attrs`
 * may be `read-write` (the default here, whatever libpq's default) or
 * `primary`; `any` is taken as `read-write`. `read-only`, `standby` and
 * `prefer-standby` are refused: every shard is written to. A host without a
 * port gets node-postgres's default (5432, or PGPORT). Anything that is not
 * a `postgres://` or `postgresql://` URL (a keyword/value string) is passed
 * on unchanged, as one host.
 */
export function parseShardAddress(url: string): ShardAddress {
  const scheme = SCHEME.exec(url);
  if (!scheme) return { url, hostUrls: [url], hosts: [], target: undefined };
  const rest = url.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at + 1);
  const hosts = authority.slice(at + 1).split(',');
  if (hosts.length > 1 && hosts.some((h) => h.trim() === '')) {
    throw new InvalidInputError(`shard URL ${describe(scheme[1]!, hosts)}: an empty host in its host list`);
  }
  const { tail: stripped, target: asked } = takeTargetSessionAttrs(tail, () => describe(scheme[1]!, hosts));
  const target = asked === 'any' || (asked === undefined && hosts.length > 1) ? 'read-write' : asked;
  // A single host without target_session_attrs: the URL exactly as given, as before multi-host URLs.
  if (hosts.length === 1 && asked === undefined) return { url, hostUrls: [url], hosts, target: undefined };
  return { url, hostUrls: hosts.map((host) => `${scheme[1]}://${userinfo}${host}${stripped}`), hosts, target };
}

/** Removes `target_session_attrs` from the query string; says which it asked for. */
function takeTargetSessionAttrs(tail: string, name: () => string): { tail: string; target: ShardTarget | 'any' | undefined } {
  const q = tail.indexOf('?');
  if (q < 0) return { tail, target: undefined };
  const hash = tail.indexOf('#', q);
  const query = tail.slice(q + 1, hash < 0 ? undefined : hash);
  let target: ShardTarget | 'any' | undefined;
  const kept = query.split('&').filter((pair) => {
    const [key, value = ''] = pair.split('=');
    if (decodeURIComponent(key!) !== 'target_session_attrs') return pair !== '';
    const wanted = decodeURIComponent(value);
    target = TARGETS[wanted];
    if (!target) {
      throw new InvalidInputError(
        `shard URL ${name()}: target_session_attrs=${wanted} is not supported: every shard is written to, so its URL may ask only for read-write (the default) or primary`,
      );
    }
    return false;
  });
  const suffix = hash < 0 ? '' : tail.slice(hash);
  return { tail: `${tail.slice(0, q)}${kept.length > 0 ? `?${kept.join('&')}` : ''}${suffix}`, target };
}

function describe(scheme: string, hosts: readonly string[]): string {
  return `${scheme}://${hosts.join(',')}`;
}

/**
 * A comma-separated list of shard URLs (a command-line flag, an environment
 * variable), where a multi-host URL has commas of its own: a piece that does
 * not start with `scheme://` continues the host list of the URL before it.
 */
export function splitShardList(text: string): string[] {
  const urls: string[] = [];
  for (const piece of text.split(',').map((p) => p.trim())) {
    if (piece === '') continue;
    if (urls.length > 0 && !/^[a-z][a-z0-9+.-]*:\/\//i.test(piece)) urls[urls.length - 1] += `,${piece}`;
    else urls.push(piece);
  }
  return urls;
}
