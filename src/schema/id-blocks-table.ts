import { numeric, pgTable, text } from 'drizzle-orm/pg-core';

/** SQL name of the allocator table of serial and identity columns (reserved: a user table of this name is a SchemaError). */
export const ID_BLOCKS_TABLE = 'percolator_id_blocks';

/**
 * The allocator of serial and identity values, an ordinary Percolator table
 * (versioned storage on every shard; each row lives on the shard its key
 * hashes to): one row per generated column, `name` = `table.column`,
 * `nextId` = the first value not handed out yet (absent: the sequence's
 * start). Clients claim blocks of values by advancing `nextId` in a
 * Percolator transaction of their own (src/client/id-blocks.ts), so two
 * claims of one column conflict and one of them retries: blocks never
 * overlap. numeric, so that the value after the last bigint still fits.
 */
export const idBlocksTable = pgTable(ID_BLOCKS_TABLE, {
  name: text().primaryKey(),
  nextId: numeric('next_id', { mode: 'bigint' }).notNull(),
});
