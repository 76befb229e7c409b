/**
 * A transaction driven step by step from a test, so that several
 * transactions interleave in a fixed order (a Hermitage schedule):
 *
 *   const t1 = await ScriptedTransaction.begin('T1', (fn) => db.transaction(fn, opts));
 *   await t1.step((tx) => tx.update(...));   // runs inside T1, resolves with its result
 *   const blocked = t2.step(...);            // a step that may wait: keep the promise
 *   await t1.commit();                       // returns from T1's callback: db.transaction commits
 *
 * Each step runs to completion before the test goes on (unless the test
 * chooses not to await it), so the order of operations across transactions
 * is exactly the order of the test's lines.
 */
type Command<Tx> =
  | { readonly kind: 'step'; readonly work: (tx: Tx) => Promise<unknown>; readonly done: Deferred<unknown> }
  | { readonly kind: 'commit' }
  | { readonly kind: 'rollback'; readonly rollback: (tx: Tx) => unknown };

export type TransactionRunner<Tx> = (fn: (tx: Tx) => Promise<void>) => Promise<void>;

export class ScriptedTransaction<Tx> {
  private readonly inbox: Command<Tx>[] = [];
  private wake: (() => void) | undefined;
  private readonly finished: Promise<void>;
  private finishedByTest = false;

  private constructor(
    readonly name: string,
    run: TransactionRunner<Tx>,
    started: Deferred<void>,
  ) {
    let attempts = 0;
    this.finished = run(async (tx) => {
      attempts += 1;
      // The schedule is fixed; a retry would replay steps out of order.
      if (attempts > 1) throw new Error(`${name} was retried: run the schedule with retries disabled`);
      started.resolve();
      for (;;) {
        const command = await this.next();
        if (command.kind === 'commit') return;
        if (command.kind === 'rollback') {
          await command.rollback(tx);
          return;
        }
        try {
          command.done.resolve(await command.work(tx));
        } catch (error) {
          // A failed statement is reported to the step; the transaction goes on, as the test decides.
          command.done.reject(error);
        }
      }
    });
    // Begin failures surface through begin(); later ones through commit()/rollback().
    this.finished.catch((error: unknown) => started.reject(error));
  }

  /** True once the test asked it to commit or roll back. */
  get ended(): boolean {
    return this.finishedByTest;
  }

  /** Starts the transaction and waits until it has its snapshot (its callback runs). */
  static async begin<Tx>(name: string, run: TransactionRunner<Tx>): Promise<ScriptedTransaction<Tx>> {
    const started = deferred<void>();
    const scripted = new ScriptedTransaction(name, run, started);
    await started.promise;
    return scripted;
  }

  /** Runs `work` inside the transaction; resolves with its result or rejects with its error. */
  step<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    this.checkOpen();
    const done = deferred<unknown>();
    this.send({ kind: 'step', work, done });
    return done.promise as Promise<T>;
  }

  /** Lets the callback return, so the transaction commits; rejects with the commit's error. */
  commit(): Promise<void> {
    this.checkOpen();
    this.finishedByTest = true;
    this.send({ kind: 'commit' });
    return this.finished;
  }

  /** Calls `rollback(tx)` inside the callback (e.g. `tx.rollback()`); resolves with the error the transaction ended with. */
  async rollback(rollback: (tx: Tx) => unknown): Promise<unknown> {
    this.checkOpen();
    this.finishedByTest = true;
    this.send({ kind: 'rollback', rollback });
    return this.finished.then(
      () => undefined,
      (error: unknown) => error,
    );
  }

  /** Commits and returns the error it failed with, or undefined if it committed. */
  async tryCommit(): Promise<unknown> {
    return this.commit().then(
      () => undefined,
      (error: unknown) => error,
    );
  }

  private send(command: Command<Tx>): void {
    this.inbox.push(command);
    this.wake?.();
  }

  private async next(): Promise<Command<Tx>> {
    while (this.inbox.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    return this.inbox.shift()!;
  }

  private checkOpen(): void {
    if (this.finishedByTest) throw new Error(`${this.name} has already ended`);
  }
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections are observed by whoever awaits; never report them as unhandled here.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
