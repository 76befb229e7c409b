/**
 * Base of every builder: immutable, and awaiting it runs the query (each
 * await runs it again, as in drizzle).
 */
export abstract class ThenableQuery<TResult> implements PromiseLike<TResult> {
  readonly [Symbol.toStringTag] = 'PercolatorQuery';

  /** @internal */
  protected abstract execute(): Promise<TResult>;

  // biome-ignore lint/suspicious/noThenProperty: a thenable is the point
  then<TFulfilled = TResult, TRejected = never>(
    onfulfilled?: ((value: TResult) => TFulfilled | PromiseLike<TFulfilled>) | null,
    onrejected?: ((reason: unknown) => TRejected | PromiseLike<TRejected>) | null,
  ): Promise<TFulfilled | TRejected> {
    return this.execute().then(onfulfilled, onrejected);
  }

  catch<TRejected = never>(onrejected?: ((reason: unknown) => TRejected | PromiseLike<TRejected>) | null): Promise<TResult | TRejected> {
    return this.then(undefined, onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<TResult> {
    return this.execute().finally(onfinally);
  }
}
