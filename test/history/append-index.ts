import type { Anomaly } from './anomaly.js';
import type { History, Key, Txn, Value } from './history.js';

/** Where an appended value came from. */
export interface AppendSite {
  readonly txn: Txn;
  /** Position among this transaction's appends to the same key (0 = first). */
  readonly nth: number;
  /** True if it is the transaction's last append to this key. */
  readonly last: boolean;
}

/** Who appended each (key, value): the lookup every other analysis starts from. */
export class AppendIndex {
  private readonly sites = new Map<Key, Map<Value, AppendSite>>();
  readonly duplicates: Anomaly[] = [];

  constructor(history: History) {
    for (const txn of history) {
      const perKey = new Map<Key, Value[]>();
      for (const op of txn.ops) {
        if (op.type !== 'append') continue;
        const list = perKey.get(op.key) ?? [];
        list.push(op.value);
        perKey.set(op.key, list);
      }
      for (const [key, values] of perKey) {
        const byValue = this.sites.get(key) ?? new Map<Value, AppendSite>();
        this.sites.set(key, byValue);
        values.forEach((value, nth) => {
          const earlier = byValue.get(value);
          if (earlier) {
            this.duplicates.push({
              type: 'duplicate-append',
              txns: [earlier.txn.id, txn.id],
              key,
              description: `value ${value} appended to ${key} twice (T${earlier.txn.id}, T${txn.id}); the workload must append unique values`,
            });
            return;
          }
          byValue.set(value, { txn, nth, last: nth === values.length - 1 });
        });
      }
    }
  }

  site(key: Key, value: Value): AppendSite | undefined {
    return this.sites.get(key)?.get(value);
  }

  writer(key: Key, value: Value): Txn | undefined {
    return this.site(key, value)?.txn;
  }

  /** Every (value, site) appended to `key`, any outcome. */
  appendsTo(key: Key): ReadonlyMap<Value, AppendSite> {
    return this.sites.get(key) ?? new Map();
  }
}
