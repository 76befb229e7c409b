import { TransactionClosedError, TransactionRollbackError } from '../errors.js';
import type { Timestamp } from '../timestamp.js';
import type { EngineTransaction, IsolationLevel } from '../txn/engine-contract.js';
import type { QueryContext, Session } from './query-context.js';
import { QueryFacade } from './query-facade.js';
import { RowCache } from './row-cache.js';

/**
 * The object `db.transaction(async (tx) => ...)` hands to its callback: a
 * database whose queries all run in one Percolator transaction, reading at
 * its start timestamp and seeing its own writes. It cannot be used once the
 * callback has returned.
 */
export class Transaction<TSchema> extends QueryFacade<TSchema> {
  /** @internal */
  readonly session: TransactionSession;

  /** @internal */
  constructor(base: Omit<QueryContext, 'run'>, engineTx: EngineTransaction) {
    const session = new TransactionSession(engineTx);
    super({ ...base, run: (_mode, work) => session.run(work) } satisfies QueryContext);
    this.session = session;
  }

  /** The snapshot this transaction reads at. */
  get startTs(): Timestamp {
    return this.session.engineTx.startTs;
  }

  get isolation(): IsolationLevel {
    return this.session.engineTx.isolation;
  }

  /**
   * Abandons the transaction: throws a TransactionRollbackError, which
   * `db.transaction` rethrows after rolling back. Nothing is written.
   * @example
   * await db.transaction(async (tx) => {
   *   const [a] = await tx.select().from(accounts).where(eq(accounts.id, 1));
   *   if (a.balance < 10) tx.rollback();
   *   await tx.update(accounts).set({ balance: a.balance - 10 }).where(eq(accounts.id, 1));
   * });
   */
  rollback(): never {
    this.session.rollbackRequested = true;
    throw new TransactionRollbackError();
  }
}

/** @internal The state of one user transaction across its queries. */
export class TransactionSession implements Session {
  readonly rowCache = new RowCache();
  /** Set by tx.rollback(): the transaction is rolled back even if the callback swallowed the error. */
  rollbackRequested = false;
  private ended = false;

  constructor(readonly engineTx: EngineTransaction) {}

  /** Called when the callback has settled: later queries fail. */
  end(): void {
    this.ended = true;
  }

  run<T>(work: (session: Session) => Promise<T>): Promise<T> {
    if (!this.ended && this.engineTx.timeoutError) return Promise.reject(this.engineTx.timeoutError);
    if (this.ended || this.engineTx.closed) {
      return Promise.reject(new TransactionClosedError('this transaction has already ended; queries must run inside the db.transaction() callback and be awaited there'));
    }
    return work(this);
  }
}
