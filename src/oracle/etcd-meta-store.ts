import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsecutiveBreaker, circuitBreaker, handleWhen, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type ICompare, type IKeyValue, type IRequestOp } from 'etcd3';
import { InvalidInputError, OracleRequestRejectedError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { Timestamp } from '../timestamp.js';
import type { LeaderInfo, LeaseGrant, MetaStore, MetaStoreOptions } from './meta-store.js';
import type { PlacementRead, PlacementWrite, StoredPlacement } from './placement-store.js';

/** Keys under the prefix: epoch and limit live forever; the leader key is bound to the holder's etcd lease. */
const EPOCH = 'epoch';
const LIMIT = 'limit';
const LEADER = 'leader';
/** One key per cluster's placement map, `placement/<cluster id>`: JSON with the slots in base64. */
const PLACEMENT = 'placement/';

interface LeaderRecord {
  id: string;
  address: string;
  epoch: string;
}

/** The three keys as one linearizable read saw them (absent keys: value 0, revisions 0). */
interface StoredState {
  epoch: bigint;
  epochKv: IKeyValue | undefined;
  limit: bigint;
  limitKv: IKeyValue | undefined;
  leader: LeaderRecord | undefined;
  leaderKv: IKeyValue | undefined;
}

/** Files of a TLS connection to etcd (PEM), as etcdctl's --cacert, --cert and --key name them. */
export interface EtcdTlsFiles {
  /** The CA that signed the members' certificates; else the system's roots. */
  readonly cacert?: string | undefined;
  /** A client certificate and its key, for members that require one (--client-cert-auth). */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export interface EtcdUrl {
  readonly hosts: string[];
  readonly prefix: string;
  readonly auth?: { username: string; password: string } | undefined;
  /** Present for `etcds://`: the members are dialled over TLS. */
  readonly tls?: EtcdTlsFiles | undefined;
}

const TLS_PARAMETERS = ['cacert', 'cert', 'key'] as const;

/**
 * `etcd://[user:password@]h1:2379,h2:2379[/prefix]`: the client endpoints
 * and the key prefix (default /percolator/oracle); `etcds://...` dials them
 * over TLS, with `?cacert=<pem>&cert=<pem>&key=<pem>` (each optional; cert
 * and key together) naming the files.
 */
export function parseEtcdUrl(url: string): EtcdUrl {
  const refuse = (why: string): InvalidInputError => new InvalidInputError(`${why}: ${redactUrl(url)}`);
  const scheme = /^etcd(s?):\/\//i.exec(url);
  if (!scheme) throw refuse('not an etcd URL (etcd://host:port,host:port[/prefix], or etcds://...[?cacert=&cert=&key=] over TLS)');
  const secure = scheme[1] !== '';
  const [rest = '', query] = splitOnce(url.slice(scheme[0].length), '?');
  // The user information ends at the last '@' (a password may hold '/' or ':'), as a WHATWG URL parser reads it.
  const at = rest.lastIndexOf('@');
  const userInfo = at >= 0 ? rest.slice(0, at) : undefined;
  const [authority = '', path] = splitOnce(rest.slice(at + 1), '/');
  const hosts = authority.split(',').map((h) => h.trim());
  for (const host of hosts) {
    if (!/^(\[[0-9a-f:.]+\]|[^:[\]]+):\d{1,5}$/i.test(host)) throw refuse(`etcd endpoint must be host:port, got ${JSON.stringify(host)}`);
  }
  const trimmed = path === undefined ? '' : `/${path}`.replace(/\/+$/, '');
  const prefix = `${trimmed === '' ? '/percolator/oracle' : trimmed}/`;
  let auth: EtcdUrl['auth'];
  if (userInfo !== undefined) {
    const [username = '', password] = splitOnce(userInfo, ':');
    if (password === undefined) throw refuse('an etcd user needs a password (user:password@)');
    auth = { username: decodeComponent(username, refuse), password: decodeComponent(password, refuse) };
  }
  if (!secure && query !== undefined) throw refuse('an etcd:// URL takes no parameters (TLS files go with etcds://)');
  const tls = secure ? tlsFilesOf(query ?? '', refuse) : undefined;
  return { hosts: hosts.map((h) => `${secure ? 'https' : 'http'}://${h}`), prefix, auth, tls };
}

/** `text` split at the first `separator`: [before, after], or [text, undefined] without one. */
function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function decodeComponent(text: string, refuse: (why: string) => Error): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw refuse('malformed percent-encoding');
  }
}

/** The TLS files of an etcds:// query: each value percent-decoded as a path (a '+' stays a '+'), each name at most once. */
function tlsFilesOf(query: string, refuse: (why: string) => Error): EtcdTlsFiles {
  const files: Partial<Record<(typeof TLS_PARAMETERS)[number], string>> = {};
  for (const pair of query.split('&').filter((p) => p !== '')) {
    const [name = '', value = ''] = splitOnce(pair, '=');
    if (!(TLS_PARAMETERS as readonly string[]).includes(name)) throw refuse(`unknown etcds:// parameter ${JSON.stringify(name)} (known: ${TLS_PARAMETERS.join(', ')})`);
    const key = name as (typeof TLS_PARAMETERS)[number];
    if (files[key] !== undefined) throw refuse(`etcds:// parameter ${name} given twice`);
    files[key] = decodeComponent(value, refuse);
  }
  if ((files.cert === undefined) !== (files.key === undefined)) throw refuse('an etcds:// client certificate needs both cert and key');
  return { cacert: files.cacert, cert: files.cert, key: files.key };
}

/** The gRPC credentials of a TLS connection: the files read, or an InvalidInputError naming the one that cannot be. */
function tlsCredentials(files: EtcdTlsFiles): { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer } {
  const read = (what: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new InvalidInputError(`cannot read the etcd ${what} file ${file}: ${(error as Error).message}`);
    }
  };
  const privateKey = read('key', files.key);
  const certChain = read('cert', files.cert);
  // No CA file: gRPC trusts the system's roots (createSsl with a null root).
  return { rootCertificate: read('cacert', files.cacert) as Buffer, ...(privateKey && { privateKey }), ...(certChain && { certChain }) };
}

/**
 * The oracle's lease, epoch and limit in etcd, as PD keeps its TSO's:
 * leadership is a key bound to an etcd lease (etcd's leader judges its
 * expiry by its own clock; the key vanishes when the lease does), and every
 * change is a compare-and-swap transaction fenced by the epoch and by the
 * leader key's lease. The guarantees are MetaStore's (meta-store.ts).
 */
export class EtcdMetaStore implements MetaStore {
  /** The etcd lease of each epoch this process acquired (normally one). */
  private readonly leases = new Map<bigint, string>();

  private constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly queryTimeoutMs: number,
  ) {}

  static async open(url: string, options: MetaStoreOptions): Promise<EtcdMetaStore> {
    const { hosts, prefix, auth, tls } = parseEtcdUrl(url);
    const client = new Etcd3({
      hosts,
      auth,
      ...(tls && { credentials: tlsCredentials(tls) }),
      dialTimeout: Math.max(1000, options.queryTimeoutMs),
      // One retry on another member; a member that keeps failing is left alone for a second, not five.
      faultHandling: {
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }),
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      },
      grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5000 },
    });
    const store = new EtcdMetaStore(client, prefix, options.queryTimeoutMs);
    const giveUpAt = Date.now() + options.startTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await store.readState();
        return store;
      } catch (error) {
        if (Date.now() >= giveUpAt) {
          client.close();
          throw error;
        }
        options.logger.warn({ err: error, attempt }, 'etcd not reachable yet; retrying');
        await sleep(Math.min(1000, 100 * attempt));
      }
    }
  }

  async tryAcquireLease(candidateId: string, address: string, leaseMs: number): Promise<LeaseGrant | undefined> {
    const state = await this.readState();
    if (state.leader && state.leader.id !== candidateId) return undefined;
    // Whole seconds, rounded up (etcd may raise it to its minimum TTL): never shorter than leaseMs.
    const granted = await this.client.leaseClient.leaseGrant({ TTL: Math.ceil(leaseMs / 1000), ID: 0 }, this.callOptions());
    const epoch = state.epoch + 1n;
    const record: LeaderRecord = { id: candidateId, address, epoch: epoch.toString() };
    const response = await this.client.kv.txn(
      {
        // Nothing changed since the read: no other candidate won in between, no renewal of a previous holder.
        compare: [this.unchanged(LEADER, state.leaderKv), this.unchanged(EPOCH, state.epochKv), this.unchanged(LIMIT, state.limitKv)],
        success: [this.put(EPOCH, epoch.toString()), this.put(LEADER, JSON.stringify(record), granted.ID)],
      },
      this.callOptions(),
    );
    if (!response.succeeded) {
      await this.revoke(granted.ID);
      return undefined;
    }
    this.leases.set(epoch, granted.ID);
    return { epoch, timestampLimit: state.limit };
  }

  async renewLease(epoch: bigint, leaseMs: number, timestampLimit: Timestamp): Promise<Timestamp | undefined> {
    void leaseMs; // the TTL was fixed at the grant; a keepalive restarts it
    const leaseId = this.leases.get(epoch);
    if (leaseId === undefined) return undefined;
    if (!(await this.keepAlive(leaseId))) {
      this.leases.delete(epoch);
      return undefined;
    }
    // The limit key is written only under this fence, so a lost race means a concurrent writer: read again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const state = await this.readState();
      if (state.epoch !== epoch || state.leaderKv?.lease !== leaseId) {
        this.leases.delete(epoch);
        return undefined;
      }
      if (timestampLimit <= state.limit) return state.limit;
      const response = await this.client.kv.txn(
        {
          compare: [
            { key: this.key(EPOCH), target: 'Value', result: 'Equal', value: Buffer.from(epoch.toString()) },
            { key: this.key(LEADER), target: 'Lease', result: 'Equal', lease: leaseId },
            this.unchanged(LIMIT, state.limitKv),
          ],
          success: [this.put(LIMIT, timestampLimit.toString())],
        },
        this.callOptions(),
      );
      if (response.succeeded) return timestampLimit;
    }
    throw new Error('etcd: the timestamp limit kept changing under the renewal');
  }

  async releaseLease(epoch: bigint): Promise<void> {
    const leaseId = this.leases.get(epoch);
    if (leaseId === undefined) return;
    this.leases.delete(epoch);
    await this.client.leaseClient.leaseRevoke({ ID: leaseId }, this.callOptions());
  }

  async readLeader(): Promise<LeaderInfo> {
    const state = await this.readState();
    return { epoch: state.epoch, address: state.leader?.address ?? null, expired: state.leader === undefined };
  }

  async readPlacement(clusterId: string | undefined): Promise<PlacementRead> {
    const all = await this.readPlacements();
    const generation = all.reduce((sum, p) => sum + p.version, 0n);
    if (clusterId === undefined && all.length > 1) {
      throw new OracleRequestRejectedError(`this oracle keeps the placement of ${all.length} clusters (${all.map((p) => p.clusterId).join(', ')}): name one`);
    }
    return { placement: clusterId === undefined ? all[0] : all.find((p) => p.clusterId === clusterId), generation };
  }

  /** Compare-and-set on the map's version, in one transaction fenced like a renewal (epoch and leader key's lease). */
  async writePlacement(epoch: bigint, placement: StoredPlacement, expectedVersion: bigint): Promise<PlacementWrite | undefined> {
    const leaseId = this.leases.get(epoch);
    if (leaseId === undefined) return undefined;
    const name = PLACEMENT + placement.clusterId;
    const { kvs } = await this.client.kv.range({ key: this.key(name) }, this.callOptions());
    const seen = kvs[0];
    const stored = seen ? decodePlacement(seen.value) : undefined;
    let applied = false;
    if ((stored?.version ?? 0n) === expectedVersion) {
      const response = await this.client.kv.txn(
        {
          compare: [
            { key: this.key(EPOCH), target: 'Value', result: 'Equal', value: Buffer.from(epoch.toString()) },
            { key: this.key(LEADER), target: 'Lease', result: 'Equal', lease: leaseId },
            this.unchanged(name, seen),
          ],
          success: [this.put(name, encodePlacement(placement))],
        },
        this.callOptions(),
      );
      applied = response.succeeded;
      if (!applied) {
        const state = await this.readState();
        if (state.epoch !== epoch || state.leaderKv?.lease !== leaseId) return undefined; // deposed: writes nothing
      }
    }
    const after = await this.readPlacement(placement.clusterId);
    return { applied, placement: after.placement, generation: after.generation };
  }

  async placementGeneration(): Promise<bigint> {
    return (await this.readPlacements()).reduce((sum, p) => sum + p.version, 0n);
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private async readPlacements(): Promise<StoredPlacement[]> {
    const start = this.prefix + PLACEMENT;
    const { kvs } = await this.client.kv.range({ key: Buffer.from(start), range_end: prefixEnd(start) }, this.callOptions());
    return kvs.map((kv) => decodePlacement(kv.value));
  }

  /** One linearizable range read of the three keys (`epoch` .. `limit`; the placement maps sort after them). */
  private async readState(): Promise<StoredState> {
    const { kvs } = await this.client.kv.range({ key: this.key(EPOCH), range_end: Buffer.from(`${this.prefix}${LIMIT}\0`) }, this.callOptions());
    const byName = new Map(kvs.map((kv) => [kv.key.toString().slice(this.prefix.length), kv]));
    const number = (kv: IKeyValue | undefined): bigint => (kv ? BigInt(kv.value.toString()) : 0n);
    const leaderKv = byName.get(LEADER);
    return {
      epochKv: byName.get(EPOCH),
      epoch: number(byName.get(EPOCH)),
      limitKv: byName.get(LIMIT),
      limit: number(byName.get(LIMIT)),
      leaderKv,
      leader: leaderKv ? (JSON.parse(leaderKv.value.toString()) as LeaderRecord) : undefined,
    };
  }

  /** One keepalive on the lease's stream; false when etcd says the lease is gone. */
  private async keepAlive(leaseId: string): Promise<boolean> {
    const stream = await this.client.leaseClient.leaseKeepAlive(this.callOptions());
    try {
      const answer = await new Promise<{ TTL: string }>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('etcd ended the keepalive stream without an answer')));
        stream.write({ ID: leaseId });
      });
      return Number(answer.TTL) > 0;
    } finally {
      stream.end();
    }
  }

  private async revoke(leaseId: string): Promise<void> {
    await this.client.leaseClient.leaseRevoke({ ID: leaseId }, this.callOptions()).catch(() => {});
  }

  private key(name: string): Buffer {
    return Buffer.from(this.prefix + name);
  }

  /** The key is as `seen` left it (absent if it was absent). */
  private unchanged(name: string, seen: IKeyValue | undefined): ICompare {
    return seen
      ? { key: this.key(name), target: 'Mod', result: 'Equal', mod_revision: seen.mod_revision }
      : { key: this.key(name), target: 'Create', result: 'Equal', create_revision: 0 };
  }

  private put(name: string, value: string, lease?: string): IRequestOp {
    return { request_put: { key: this.key(name), value: Buffer.from(value), lease } };
  }

  private callOptions(): { deadline: number } {
    return { deadline: Date.now() + this.queryTimeoutMs };
  }
}

function encodePlacement(placement: StoredPlacement): string {
  return JSON.stringify({ ...placement, version: placement.version.toString(), slots: Buffer.from(placement.slots).toString('base64') });
}

function decodePlacement(value: Buffer): StoredPlacement {
  const stored = JSON.parse(value.toString()) as { clusterId: string; version: string; shards: { id: number; url: string }[]; slots: string };
  return { clusterId: stored.clusterId, version: BigInt(stored.version), shards: stored.shards, slots: new Uint8Array(Buffer.from(stored.slots, 'base64')) };
}

/** The range end that covers every key starting with `prefix` (etcd's prefix convention). */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  return end;
}
