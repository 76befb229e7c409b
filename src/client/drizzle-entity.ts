import { is, type DrizzleEntityClass } from 'drizzle-orm';

// biome-ignore lint/suspicious/noExplicitAny: drizzle's own signature
type EntityClass = DrizzleEntityClass<any>;

/** Per class of object, what `is(object, type)` answered for each type asked. */
const answers = new WeakMap<object, Map<EntityClass, boolean>>();

/**
 * @internal drizzle's `is(value, type)` (an instance of `type`, or of a class
 * of the same entity kind from another copy of drizzle-orm), with the answer
 * remembered per class. drizzle's `is` walks the prototype chain comparing
 * entity kinds whenever `instanceof` fails, and a filter is checked against
 * several types chunk by chunk, so most questions are such misses; the
 * answer depends only on the value's class, never on the value.
 */
export function isEntity<T extends EntityClass>(value: unknown, type: T): value is InstanceType<T> {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof type) return true;
  const proto = Object.getPrototypeOf(value) as { constructor?: unknown } | null;
  const cls = proto?.constructor;
  if (typeof cls !== 'function') return is(value, type);
  let byType = answers.get(cls);
  if (!byType) answers.set(cls, (byType = new Map()));
  const known = byType.get(type);
  if (known !== undefined) return known;
  const answer = is(value, type);
  byType.set(type, answer);
  return answer;
}
