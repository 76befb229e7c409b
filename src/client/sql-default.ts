import { randomUUID } from 'node:crypto';
import { SQL, StringChunk } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { SchemaError } from '../errors.js';
import { checkColumnValue } from './column-value.js';
import { isEntity } from './drizzle-entity.js';

/** Evaluates one SQL default on the client, each time a row needs it. */
export type DefaultEvaluator = () => unknown;

const evaluators = new WeakMap<PgColumn, DefaultEvaluator | SchemaError>();

/**
 * @internal The client-side evaluation of a column's SQL default, when it is
 * a deterministic function of nothing a client can compute as the server
 * would: `now()` and its synonyms (the client's clock), `current_date`,
 * `gen_random_uuid()` (`uuid().defaultRandom()`; `crypto.randomUUID()`),
 * and literals (`sql\`'draft'\``, `sql\`0\``, `sql\`true\``, `sql\`null\``,
 * `sql\`'{}'::jsonb\``). Anything else (a sequence, a function of other
 * columns, a parameter) is a SchemaError: storage never computes defaults.
 * Parsed once per column.
 */
export function sqlDefaultEvaluator(column: PgColumn, where: string): DefaultEvaluator {
  let evaluator = evaluators.get(column);
  if (!evaluator) evaluators.set(column, (evaluator = parse(column, column.default as SQL, where)));
  if (evaluator instanceof SchemaError) throw evaluator;
  return evaluator;
}

/** @internal Whether the column's SQL default draws a new random value per row (gen_random_uuid()). */
export function isRandomSqlDefault(column: PgColumn): boolean {
  const value = column.default as SQL;
  if (!value.queryChunks.every((c) => isEntity(c, StringChunk))) return false;
  const text = value.queryChunks.map((c) => (c as StringChunk).value.join('')).join('').trim();
  return RANDOM_UUID.has(stripParens(text).toLowerCase());
}

const NOW = new Set(['now()', 'current_timestamp', 'localtimestamp', 'transaction_timestamp()', 'statement_timestamp()', 'clock_timestamp()']);
const RANDOM_UUID = new Set(['gen_random_uuid()', 'uuid_generate_v4()']);
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
const INTEGER_TYPES = /^Pg(Integer|SmallInt|BigInt53|Serial|SmallSerial|BigSerial53)$/;
const STRING = /^'((?:[^']|'')*)'$/s;
/** A trailing cast `::type`, `::varchar(20)`, `::text[]`. */
const CAST = /::\s*[a-z_][a-z0-9_ ]*(\(\s*\d+(\s*,\s*\d+)?\s*\))?(\[\])*\s*$/i;

function parse(column: PgColumn, value: SQL, where: string): DefaultEvaluator | SchemaError {
  const plain = value.queryChunks.every((c) => isEntity(c, StringChunk));
  const text = plain ? value.queryChunks.map((c) => (c as StringChunk).value.join('')).join('').trim() : '(an SQL template with parameters or columns)';
  const refuse = (why: string) =>
    new SchemaError(`${where} has the SQL default ${JSON.stringify(text)}, which percolator cannot evaluate on the client (${why}): pass a value, or declare a JS default ($defaultFn)`);
  if (!plain) return refuse('it embeds parameters or columns');
  let body = stripParens(text);
  const lower = body.toLowerCase();
  if (NOW.has(lower)) return column.dataType === 'string' ? () => new Date().toISOString() : () => new Date();
  if (lower === 'current_date') return column.dataType === 'string' ? () => new Date().toISOString().slice(0, 10) : () => utcMidnight(new Date());
  if (RANDOM_UUID.has(lower)) return () => randomUUID();
  body = stripParens(body.replace(CAST, '').trim());
  let literal: string | null;
  if (/^null$/i.test(body)) literal = null;
  else if (/^(true|false)$/i.test(body) || NUMBER.test(body)) literal = body.toLowerCase();
  else {
    const quoted = STRING.exec(body);
    if (!quoted) return refuse('only now(), current_date, gen_random_uuid() and literals are');
    literal = quoted[1]!.replace(/''/g, "'");
  }
  const js = literal === null ? null : fromLiteral(column, literal);
  const problem = js === null ? undefined : checkColumnValue(column, js);
  if (problem) return refuse(`as a ${column.getSQLType()} value: ${problem}`);
  // Each row gets its own copy of an object default (json, arrays, dates).
  return typeof js === 'object' && js !== null ? () => structuredClone(js) : () => js;
}

/** A literal's text as the JS value drizzle reads such a column as (the text Postgres would print for it). */
function fromLiteral(column: PgColumn, text: string): unknown {
  if (column.dataType === 'boolean') {
    const lower = text.trim().toLowerCase();
    if (['t', 'true', 'y', 'yes', 'on', '1'].includes(lower)) return true;
    if (['f', 'false', 'n', 'no', 'off', '0'].includes(lower)) return false;
    return text;
  }
  // Refused by the type check rather than parsed into NaN or truncated (parseInt('1.5') is 1).
  if (column.dataType === 'number' && !(INTEGER_TYPES.test(column.columnType) ? /^[+-]?\d+$/ : NUMBER).test(text.trim())) return text;
  try {
    return column.mapFromDriverValue(text);
  } catch {
    return text;
  }
}

function stripParens(text: string): string {
  let body = text;
  while (body.startsWith('(') && body.endsWith(')') && balanced(body.slice(1, -1))) body = body.slice(1, -1).trim();
  return body;
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

function utcMidnight(date: Date): Date {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}
