import { PostgresServer, type PostgresServerOptions } from './postgres-server.js';

export interface PostgresClusterOptions extends PostgresServerOptions {
  /** Synchronous streaming standbys of each server (PostgresServer.addStandby); default 0. */
  replicas?: number;
}

/** N throwaway Postgres servers started in parallel, each with `replicas` standbys; `destroy()` removes all of them. */
export class PostgresCluster {
  private constructor(
    /** The primaries, one per shard. */
    readonly servers: PostgresServer[],
    /** Each primary's standbys (empty lists without replicas). */
    readonly standbys: PostgresServer[][],
  ) {}

  static async start(count: number, options: PostgresClusterOptions = {}): Promise<PostgresCluster> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`cluster size must be a positive integer, got ${count}`);
    const replicas = options.replicas ?? 0;
    if (!Number.isInteger(replicas) || replicas < 0) throw new RangeError(`replicas must be a non-negative integer, got ${replicas}`);
    const { replicas: _, ...serverOptions } = options;
    const settled = await Promise.allSettled(Array.from({ length: count }, () => PostgresServer.create(serverOptions)));
    const servers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const standbys: PostgresServer[][] = servers.map(() => []);
    let failure: unknown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
    if (failure === undefined && replicas > 0) {
      // In parallel across shards, one after another on each primary (each one changes its synchronous_standby_names).
      const made = await Promise.allSettled(
        servers.map(async (server, i) => {
          for (let r = 0; r < replicas; r++) standbys[i]!.push(await server.addStandby());
        }),
      );
      failure = made.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason;
    }
    const cluster = new PostgresCluster(servers, standbys);
    if (failure !== undefined) {
      await cluster.destroy();
      throw failure;
    }
    return cluster;
  }

  /** Each shard's URL: the server's, or with standbys a multi-host URL naming the primary first (PostgresServer.multiHostUrl). */
  get urls(): string[] {
    return this.servers.map((s, i) => (this.standbys[i]!.length > 0 ? s.multiHostUrl(this.standbys[i]!) : s.url));
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.servers, ...this.standbys.flat()].map((s) => s.destroy()));
  }
}
