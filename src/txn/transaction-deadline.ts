/**
 * The longest a transaction may live (the engine's `maxTransactionMs`),
 * from begin to commit or rollback. A transaction's locking reads keep
 * their locks alive by heartbeat, and version GC never moves its safe point
 * past a live lock: without a deadline a hung callback would hold rows, and
 * the safe point, for ever. When the time is up `onExpire` runs once (the
 * transaction releases its locks and fails from then on); a transaction
 * that has started committing is no longer interrupted (each commit
 * statement has its own deadline).
 */
export class TransactionDeadline {
  private readonly at: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly limitMs: number,
    onExpire: () => void,
  ) {
    this.at = Date.now() + limitMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      onExpire();
    }, limitMs);
    this.timer.unref();
  }

  /** The time is up (the timer may not have fired yet under load). */
  get passed(): boolean {
    return Date.now() >= this.at;
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
