/**
 * A process of delay relays (delay-relay.ts), one per target in argv's
 * JSON: forked by delay-relays.ts so that the relays' CPU is their own, not
 * the benchmark client's. Reports its ports over IPC and exits when the
 * parent disconnects (including when the parent dies).
 */
import { startDelayRelay } from './delay-relay.js';
import type { RelayProcessConfig, RelayProcessMessage } from './delay-relays.js';

async function main(config: RelayProcessConfig): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  const relays = await Promise.all(config.targets.map((target) => startDelayRelay(target, config.oneWayMs)));
  const message: RelayProcessMessage = { type: 'ready', ports: relays.map((r) => r.port) };
  process.send!(message);
}

main(JSON.parse(process.argv[2]!) as RelayProcessConfig).catch((error: unknown) => {
  const message: RelayProcessMessage = { type: 'error', message: error instanceof Error ? error.message : String(error) };
  process.send?.(message, () => process.exit(1));
});
