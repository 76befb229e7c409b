import { PostgresServer, type PostgresServerOptions } from './postgres-server.js';

/** N throwaway Postgres servers started in parallel; `destroy()` removes all of them. */
export class PostgresCluster {
  private constructor(readonly servers: PostgresServer[]) {}

  static async start(count: number, options: PostgresServerOptions = {}): Promise<PostgresCluster> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`cluster size must be a positive integer, got ${count}`);
    const settled = await Promise.allSettled(Array.from({ length: count }, () => PostgresServer.create(options)));
    const servers = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure) {
      await Promise.all(servers.map((s) => s.destroy()));
      throw failure.reason;
    }
    return new PostgresCluster(servers);
  }

  get urls(): string[] {
    return this.servers.map((s) => s.url);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.destroy()));
  }
}
