import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

export interface HostedServer {
  url: string;
  port: number;
  dataDir: string;
  /** The postmaster's pid. */
  pid: number;
  host: ChildProcess;
}

const SCRIPT = path.resolve(import.meta.dirname, 'server-host.mjs');

/**
 * A temp directory of its own for a test's throwaway servers (their cache
 * and data), reachable by the `postgres` user: pass it as TMPDIR.
 */
export function privateTmpdir(prefix: string): string {
  const dir = mkdtempSync(path.join('/tmp', prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Starts test/support/server-host.mjs (one throwaway server in a process of
 * its own) and waits for its server; rejects with the host's stderr when it
 * fails. `root` is the package whose dist/ it runs (default: this checkout).
 */
export async function startHostedServer(env: NodeJS.ProcessEnv, options: { root?: string; settings?: Record<string, string | number> } = {}): Promise<HostedServer> {
  const args = [SCRIPT, options.root ?? path.resolve(import.meta.dirname, '../..')];
  if (options.settings) args.push(JSON.stringify(options.settings));
  const host = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  host.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => host.once('close', (code) => resolve(code)));
  const line = await Promise.race([
    createInterface({ input: host.stdout! })[Symbol.asyncIterator]().next().then((r) => r.value as string | undefined),
    exited.then(() => undefined),
  ]);
  if (!line) {
    host.kill('SIGKILL');
    throw new Error(`server host failed (exit ${await exited}): ${stderr}`);
  }
  return { ...(JSON.parse(line) as Omit<HostedServer, 'host'>), host };
}

export function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
}

export async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
    if (condition()) return true;
  }
  return condition();
}
