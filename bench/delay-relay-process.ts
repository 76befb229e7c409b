/**
 * A process of delay relays (delay-relay.ts), one per target in argv's
 * JSON: forked by delay-relays.ts so that the relays' CPU is their own, not
 * the benchmark client's. Reports its ports over IPC and exits when the
 * parent disconnects (including when the parent dies). The parent may change
 * the delay while it runs (`set-delay`).
 */
import { startDelayRelay } from './delay-relay.js';
import type { RelayProcessCommand, RelayProcessConfig, RelayProcessMessage } from './delay-relays.js';

async function main(config: RelayProcessConfig): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  const relays = await Promise.all(config.targets.map((target) => startDelayRelay(target, config.oneWayMs)));
  process.on('message', (command: RelayProcessCommand) => {
    if (command.type !== 'set-delay') return;
    for (const relay of relays) relay.setDelay(command.oneWayMs);
    const answer: RelayProcessMessage = { type: 'delay-set', delayedChunks: relays.reduce((sum, r) => sum + r.delayedChunks, 0) };
    process.send!(answer);
  });
  const message: RelayProcessMessage = { type: 'ready', ports: relays.map((r) => r.port) };
  process.send!(message);
}

main(JSON.parse(process.argv[2]!) as RelayProcessConfig).catch((error: unknown) => {
  const message: RelayProcessMessage = { type: 'error', message: error instanceof Error ? error.message : String(error) };
  process.send?.(message, () => process.exit(1));
});
