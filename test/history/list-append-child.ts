import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { compiledPath } from '../../src/package-root.js';
import type { Txn } from './history.js';
import type { ListAppendClientArgs } from './list-append-client.js';

const CHILD = compiledPath('test/history/list-append-client');

/**
 * Runs a client process; SIGKILLs it right after its `killAfter`-th
 * "committing" event. Returns its history: finished transactions as they
 * ended, the one in doubt when it died as info.
 */
export async function runListAppendChild(args: ListAppendClientArgs, killAfter: number | undefined): Promise<Txn[]> {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const inDoubt = new Map<number, Txn>();
  const done: Txn[] = [];
  let committing = 0;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  for await (const line of createInterface({ input: child.stdout! })) {
    const event = JSON.parse(line) as { committing?: Txn; done?: Txn };
    if (event.committing) {
      inDoubt.set(event.committing.id, event.committing);
      committing += 1;
      if (committing === killAfter) child.kill('SIGKILL');
    } else if (event.done) {
      inDoubt.delete(event.done.id);
      done.push(event.done);
    }
  }
  const { code, signal } = await exited;
  if (killAfter === undefined && code !== 0) throw new Error(`list-append client failed (${code ?? signal}): ${stderr}`);
  return [...done, ...[...inDoubt.values()].map((t): Txn => ({ ...t, outcome: 'info', note: 'client killed while committing' }))];
}
