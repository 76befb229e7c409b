import pg from 'pg';
import { toParameter } from './driver-values.js';

/** What the shard returned for one statement. */
export interface ShardQueryResult<R> {
  rows: R[];
  /** Rows affected or returned, from the command tag (null for commands without a count). */
  rowCount: number | null;
  /** The result's column names, in order: what each element of an array row (`rowMode: 'array'`) is. */
  columns?: readonly string[];
}

/** How result rows come back: objects keyed by column name, or arrays of the values in column order. */
export type RowMode = 'object' | 'array';

type Parser = (text: string) => unknown;

/** Column names and text parsers of a prepared statement's result rows. */
interface RowShape {
  readonly names: readonly string[];
  readonly parsers: readonly Parser[];
  /** Every column set to null: rows start as copies of it, so they share one hidden class from the start. */
  readonly empty: Readonly<Record<string, null>>;
}

/** The parts of node-postgres's (untyped) wire connection a query submits through, as pg's own Query uses them. */
interface WireConnection {
  readonly parsedStatements: Record<string, string | undefined>;
  readonly submittedNamedStatements: Record<string, string | undefined>;
  readonly stream: { cork?(): void; uncork?(): void; destroy?(): void };
  parse(query: { text: string; name: string }): void;
  bind(config: { portal: string; statement: string; values: unknown[]; binary: boolean }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(config: { portal: string; rows: number }): void;
  sync(): void;
}

const corked = new WeakSet<object>();

/**
 * Holds a connection's writes until the current turn of the event loop has
 * run its callbacks (setImmediate), so statements submitted to one
 * pipelined connection by every reply handled in this turn (not only those
 * of one tick) leave in one write syscall. Nothing waits longer than the
 * turn: the loop polls without blocking while an immediate is pending.
 */
function corkUntilLoopTurnEnds(connection: WireConnection): void {
  if (corked.has(connection) || !connection.stream.cork) return;
  corked.add(connection);
  connection.stream.cork();
  setImmediate(() => {
    corked.delete(connection);
    connection.stream.uncork?.();
  });
}

/** Result shapes already described on each connection, by statement name. */
const shapesByConnection = new WeakMap<object, Map<string, RowShape>>();

const COMMAND_TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;

/**
 * One execution of a named prepared statement, submitted to a pg.Client the
 * way node-postgres's own Query is (Parse once per connection, then Bind,
 * Execute, Sync), with two savings that matter at a few statements per
 * transaction: the portal is described only on a connection's first
 * execution of the statement (a prepared statement's result columns are
 * fixed, so later executions reuse the parsers built then instead of
 * parsing a RowDescription and building parsers every time), and no
 * EventEmitter or config copy per query. Results come back as pg's would:
 * rows keyed by column name, text values through `parserOf`. With
 * `rowMode` 'array' a row is the protocol parser's own array of the row's
 * texts, parsed in place: no object per row (reads of many rows).
 */
export class PreparedQuery<R> implements pg.Submittable {
  /** Set by the caller; node-postgres wraps it for its statement timeout. */
  callback: (error: Error | null, result?: ShardQueryResult<R>) => void = () => {};
  private readonly resultRows: R[] = [];
  private rowCount: number | null = null;
  private shape: RowShape | undefined;
  private shapes: Map<string, RowShape> | undefined;
  private parseFailure: Error | undefined;
  private settled = false;

  constructor(
    /** Read by node-postgres to record the statement as parsed on the connection. */
    readonly name: string,
    readonly text: string,
    private readonly values: readonly unknown[],
    private readonly parserOf: (typeId: number) => Parser,
    private readonly rowMode: RowMode = 'object',
  ) {}

  /** Called by pg.Client when the connection is free; a returned error fails the query before anything was sent. */
  submit(wire: pg.Connection): Error | null {
    const connection = wire as unknown as WireConnection;
    const known = connection.parsedStatements[this.name] ?? connection.submittedNamedStatements[this.name];
    if (known !== undefined && known !== this.text) return new Error(`Prepared statements must be unique - '${this.name}' was used for a different statement`);
    let values: unknown[];
    try {
      // Converted before anything is written, so a bad value leaves the connection untouched.
      values = this.values.map(toParameter);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    let shapes = shapesByConnection.get(connection);
    if (!shapes) shapesByConnection.set(connection, (shapes = new Map()));
    this.shapes = shapes;
    this.shape = known === undefined ? undefined : shapes.get(this.name);
    corkUntilLoopTurnEnds(connection);
    try {
      if (known === undefined) {
        connection.parse({ text: this.text, name: this.name });
        connection.submittedNamedStatements[this.name] = this.text;
      }
      connection.bind({ portal: '', statement: this.name, values, binary: false });
      if (!this.shape) connection.describe({ type: 'P', name: '' });
      connection.execute({ portal: '', rows: 0 });
      connection.sync();
    } catch (error) {
      // Half a statement may be in the buffer, with no Sync: the connection
      // cannot be trusted for anything behind it.
      connection.stream.destroy?.();
      return error instanceof Error ? error : new Error(String(error));
    }
    return null;
  }

  handleRowDescription(message: { fields: readonly { name: string; dataTypeID: number }[] }): void {
    const names = message.fields.map((f) => f.name);
    const nulls = Object.create(null) as Record<string, null>;
    for (const name of names) nulls[name] = null;
    const empty = { ...nulls };
    const shape: RowShape = { names, parsers: message.fields.map((f) => this.parserOf(f.dataTypeID)), empty };
    this.shape = shape;
    this.shapes!.set(this.name, shape);
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    if (this.parseFailure) return;
    const { names, parsers, empty } = this.shape!;
    const fields = message.fields;
    try {
      if (this.rowMode === 'array') {
        // The parser makes a new array for every DataRow message: it becomes the row.
        for (let i = 0; i < fields.length; i++) {
          const text = fields[i]!;
          if (text !== null) (fields as unknown[])[i] = parsers[i]!(text);
        }
        this.resultRows.push(fields as R);
        return;
      }
      const row: Record<string, unknown> = { ...empty };
      for (let i = 0; i < fields.length; i++) {
        const text = fields[i]!;
        row[names[i]!] = text === null ? null : parsers[i]!(text);
      }
      this.resultRows.push(row as R);
    } catch (error) {
      // Reported once the server is done with the statement, as pg does.
      this.parseFailure = error instanceof Error ? error : new Error(String(error));
    }
  }

  handleCommandComplete(message: { text: string }): void {
    const match = COMMAND_TAG.exec(message.text);
    if (match?.[3]) this.rowCount = Number.parseInt(match[3], 10);
    else if (match?.[2]) this.rowCount = Number.parseInt(match[2], 10);
  }

  handleReadyForQuery(): void {
    if (this.parseFailure) this.finish(this.parseFailure);
    else this.finish(null);
  }

  handleError(error: Error): void {
    this.finish(error);
  }

  // Messages our statements never cause (no row limit, no COPY); answered as pg's Query does.
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    connection.sendCopyFail('No source stream defined');
  }
  handleCopyData(): void {}

  private finish(error: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    if (error) this.callback(error);
    else this.callback(null, { rows: this.resultRows, rowCount: this.rowCount, columns: this.shape?.names ?? [] });
  }
}

// node-postgres's pipeline mode refuses Submittables that are not its own
// Query (cursors keep portals open across round trips). PreparedQuery
// answers every message within its own Sync, as Query does, so it passes
// as one; no Query constructor runs, every handler pg calls is ours.
Object.setPrototypeOf(PreparedQuery.prototype, pg.Query.prototype);
