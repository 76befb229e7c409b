import type { TableStorage } from '../shard/table-storage.js';

/** One member's part of a table's piece of a shared statement. */
export interface PieceEntry<Entry> {
  readonly entry: Entry;
  /** The member (index among the statement's requests). */
  readonly member: number;
  /** Where this entry's rows start among the piece's rows (all entries' rows, in order). */
  readonly firstRow: number;
  /** Where they start among the member's own rows (all its tables' rows, in order). */
  readonly rowOffset: number;
}

/** One table's part of a statement over several tables: its storage and the entries of the members that write it. */
export interface TablePiece<Entry> {
  readonly storage: TableStorage;
  readonly entries: PieceEntry<Entry>[];
}

/**
 * The tables of several members' requests, each once, sorted by name (so
 * that concurrent statements take rows of different tables in one order),
 * with each member's entry per table (`entryOf(member, table, its index
 * among the member's tables)`), `size` rows or keys each.
 */
export function tablePieces<Table extends { readonly storage: TableStorage }, Entry>(
  requests: readonly { readonly tables: readonly Table[] }[],
  entryOf: (member: number, table: Table, index: number) => Entry,
  size: (table: Table) => number,
): TablePiece<Entry>[] {
  const byName = new Map<string, { piece: TablePiece<Entry>; rows: number }>();
  requests.forEach((request, member) => {
    let rowOffset = 0;
    request.tables.forEach((table, index) => {
      const name = table.storage.meta.name;
      let slot = byName.get(name);
      if (!slot) byName.set(name, (slot = { piece: { storage: table.storage, entries: [] }, rows: 0 }));
      slot.piece.entries.push({ entry: entryOf(member, table, index), member, firstRow: slot.rows, rowOffset });
      slot.rows += size(table);
      rowOffset += size(table);
    });
  });
  return [...byName.keys()].sort().map((name) => byName.get(name)!.piece);
}
