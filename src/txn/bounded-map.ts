/** Sets `key` in a map of at most `capacity` entries, dropping the oldest entry when a new key would not fit. */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, capacity: number): void {
  if (!map.has(key) && map.size >= capacity) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
  map.set(key, value);
}
