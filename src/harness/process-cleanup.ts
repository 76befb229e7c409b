/**
 * Throwaway servers must never outlive the process that started them, also
 * when a test fails or the user presses Ctrl-C. Servers register here; on
 * exit (normal, SIGINT, SIGTERM, uncaught error) every registered server is
 * killed and its files removed.
 */
interface Disposable {
  destroySync(): void;
}

const live = new Set<Disposable>();
let installed = false;

export function registerForCleanup(resource: Disposable): void {
  live.add(resource);
  if (installed) return;
  installed = true;
  process.once('exit', destroyAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      destroyAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

export function unregisterFromCleanup(resource: Disposable): void {
  live.delete(resource);
}

function destroyAll(): void {
  for (const resource of live) resource.destroySync();
  live.clear();
}
