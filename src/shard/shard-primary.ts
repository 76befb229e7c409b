import pg from 'pg';
import { silentLogger, type Logger } from '../logger.js';
import { parseShardAddress, type ShardAddress } from './shard-address.js';

/**
 * Connections to a shard that is a primary with streaming-replication
 * standbys, given as a multi-host URL (shard-address.ts), and what a
 * failover to one of them keeps. Promotion is not ours: an operator's tool
 * (Patroni, pg_auto_failover, a cloud service) or the test harness
 * (`pg_ctl promote`) makes a standby the primary; the client finds it.
 *
 * Invariants:
 *
 * 1. **Only the primary is used.** Every connection of a shard with several
 *    hosts (or an explicit `target_session_attrs`) is checked once, before
 *    anything else runs on it: `pg_is_in_recovery()` false (and, for
 *    `read-write`, `transaction_read_only` off). A standby is never read
 *    here: its replay may lag behind commits the primary acknowledged, so a
 *    snapshot read there could miss a commit below its timestamp (asOf
 *    reads that ask for standbys wait for their replay first:
 *    src/txn/standby-pools.ts). A checked
 *    connection stays on its server until it fails, because a server never
 *    turns from primary into standby without a restart, which ends it.
 * 2. **Re-discovery.** A connection that fails (connection lost, refused,
 *    timed out, the server shutting down or in recovery: SQLSTATE 08, 57P,
 *    and 25006 from a server gone read-only) becomes ShardUnavailableError
 *    (shard-errors.ts) and is dropped, never reused (pipelined-connections.ts
 *    mustReplace; ShardPool.transaction discards it). The next connection
 *    tries the host that last was the primary, then the others in the order
 *    given; when none is the primary, the statement fails with
 *    ShardUnavailableError (retryable: `db.transaction` runs it again after
 *    a backoff), having run nowhere.
 * 3. **Outcomes are today's.** A statement in flight on the lost primary
 *    fails as it would in a crash of a single server: ShardUnavailableError,
 *    and CommitUndeterminedError only for commitPrimary, whose commit record
 *    may have reached the standby before the primary died without the
 *    answer reaching us (commit-primary.ts). A commit the client saw succeed
 *    had waited for the standby (3a), so it is on the promoted server.
 * 4. **Durability (synchronous standby).** The engine's crash arguments
 *    (docs/DESIGN.md, "What waits for a WAL flush") rest on one fact: what
 *    survives a crash of a shard is a prefix of its WAL that contains every
 *    commit that waited for its flush. A failover to a synchronous standby
 *    keeps that fact, so every one of those arguments holds across it:
 *    a. With `synchronous_standby_names` naming the standby and
 *       `synchronous_commit` `on` (or `remote_write`, `remote_apply`), a
 *       commit returns only once the standby has flushed the WAL up to its
 *       commit record (written, for remote_write). The standby receives WAL
 *       in order and reports one position: having the commit record means
 *       having every record before it.
 *    b. Promotion replays everything the standby received before it
 *       accepts writes, so the promoted server holds a prefix of the old
 *       primary's WAL that contains every acknowledged synchronous commit.
 *    c. Statements run with `synchronous_commit = off` (the primary shard's
 *       prewrite, lazy secondary commits, pessimistic lock rows: the second
 *       set of pipelined connections) wait for neither the local flush nor
 *       the standby. Each was safe to lose in a crash because either the
 *       protocol redoes it (a lost secondary commit leaves its lock, rolled
 *       forward from the durable primary) or a later synchronous commit on
 *       the same server depends on it and comes after it in the WAL
 *       (commitPrimary after the primary shard's prewrite; a push or a
 *       rollback marker after the lock it acts on). By (a) and (b) that
 *       later commit, once acknowledged, brings the earlier record with it
 *       to the promoted server; when it was not acknowledged, both may be
 *       lost together, exactly as in a crash.
 *    d. Nothing here makes an unreplicated commit look acknowledged. A
 *       backend waiting for the standby whose postmaster dies (a SIGKILLed
 *       primary), or that is terminated, stops waiting without answering;
 *       the engine's client-side deadline closes the connection and never
 *       sends a cancel request. (A cancel request, `pg_cancel_backend`,
 *       would end the wait with a warning and report the commit as done
 *       although the standby may not have it: Postgres's rule. Operators
 *       must not cancel the shards' committing backends.)
 *    With asynchronous standbys (a) does not hold: what the promoted server
 *    lacks is whatever the standby had not received, acknowledged or not,
 *    and the arguments above fail for it (docs/CLIENT.md, "Replicas and
 *    failover", says what is then lost).
 * 5. **Not kept here: fencing.** The old primary must not come back as a
 *    primary next to the promoted one (split brain); the failover tool
 *    stops it or rejoins it as a standby (pg_rewind). A client holding
 *    connections to an old primary that is cut off but alive keeps using
 *    it until they fail; with synchronous replication its commits then hang
 *    (no standby acknowledges them) and end by the statement deadline.
 *
 * Tests: test/harness/postgres-standby.test.ts (streaming, promotion),
 * test/client/shard-failover.test.ts (bank with a ledger under load across
 * a SIGKILL of a shard's primary; a commit acknowledged just before the kill
 * is on the promoted standby; a commit waits for the standby).
 */

/** No host of a shard is the primary (all down, or standbys only): a connection-class failure (SQLSTATE class 08). */
export class NoPrimaryError extends Error {
  readonly code = '08001';
  constructor(readonly failures: readonly string[]) {
    super(`no primary among its hosts (${failures.join('; ')})`);
  }
}

/** What the check of a new connection found (invariant 1). */
interface ServerRole {
  standby: boolean;
  read_only: boolean;
  sync_names: string;
}

const ROLE_QUERY =
  "select pg_is_in_recovery() as standby, current_setting('transaction_read_only') = 'on' as read_only, current_setting('synchronous_standby_names') as sync_names";

/** Opens one connection to the URL in `config` (no check); closed again if it fails to open. */
export async function openClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  // Until its owner listens: a socket failure must never crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    void client.end().catch(() => {});
    throw error;
  }
}

/**
 * Opens connections to one shard: to its single host as given, or to
 * whichever of its hosts is the primary now (invariants 1 and 2). Shared by
 * every pool of the shard, so that once one of them has found a new primary
 * the others try it first.
 */
export class PrimaryConnector {
  /** Index of the host tried first: the last one found to be the primary. */
  private preferred = 0;
  private lastPrimary: number | undefined;
  private warnedAsync = new Set<number>();

  constructor(
    readonly address: ShardAddress,
    private readonly name: string,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** A connected client on the primary (`config` minus its URL, which is each host's in turn). */
  readonly connect = async (config: pg.ClientConfig): Promise<pg.Client> => {
    const { hostUrls, hosts, target } = this.address;
    if (target === undefined) return openClient({ ...config, connectionString: hostUrls[0] });
    const failures: string[] = [];
    const order = [this.preferred, ...hostUrls.keys()].filter((i, k, all) => all.indexOf(i) === k);
    for (const i of order) {
      let client: pg.Client;
      try {
        client = await openClient({ ...config, connectionString: hostUrls[i] });
      } catch (error) {
        failures.push(`${hosts[i]}: ${messageOf(error)}`);
        continue;
      }
      try {
        const timeout = config.connectionTimeoutMillis || 5_000;
        const role = (await client.query<ServerRole>({ text: ROLE_QUERY, query_timeout: timeout } as pg.QueryConfig)).rows[0]!;
        if (!role.standby && (target === 'primary' || !role.read_only)) {
          this.found(i, role);
          return client;
        }
        failures.push(`${hosts[i]}: ${role.standby ? 'a standby (in recovery)' : 'read-only (default_transaction_read_only)'}`);
      } catch (error) {
        failures.push(`${hosts[i]}: ${messageOf(error)}`);
      }
      void client.end().catch(() => {});
    }
    throw new NoPrimaryError(failures);
  };

  private found(i: number, role: ServerRole): void {
    this.preferred = i;
    if (this.lastPrimary !== i) {
      if (this.lastPrimary !== undefined) {
        this.logger.warn({ shard: this.name, from: this.address.hosts[this.lastPrimary], to: this.address.hosts[i] }, 'shard primary moved to another host');
      }
      this.lastPrimary = i;
    }
    if (this.address.hosts.length > 1 && role.sync_names.trim() === '' && !this.warnedAsync.has(i)) {
      this.warnedAsync.add(i);
      this.logger.warn(
        { shard: this.name, host: this.address.hosts[i] },
        'shard primary has no synchronous standby (synchronous_standby_names is empty): a failover may lose acknowledged commits (docs/CLIENT.md, "Replicas and failover")',
      );
    }
  }
}

/**
 * One connection to the shard at `url`, checked like every connection of
 * its pools: its only host as given, or whichever of its hosts is the
 * primary now (probes, tools). `name` is used in warnings.
 */
export function connectToShard(url: string, config: pg.ClientConfig = {}, name = 'shard'): Promise<pg.Client> {
  return new PrimaryConnector(parseShardAddress(url), name).connect(config);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
