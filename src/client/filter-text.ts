/**
 * @internal What the text of a filter's raw `sql` fragments may say. A filter
 * is rendered into statements that run on each shard next to the storage
 * tables of every table, so its text must not be able to name any relation,
 * column or function by itself: only the queried table's columns (drizzle
 * column objects), bound values, and the tokens below.
 */

/** Stands for a column of the queried table in the text checked (drizzle renders `"table"."column"`). */
export const COLUMN_MARK = '\u0001';
/** Stands for a bound value (drizzle renders `$n`). */
export const VALUE_MARK = '\u0002';

const KEYWORDS = ['and', 'or', 'not', 'is', 'null', 'true', 'false', 'unknown', 'isnull', 'notnull', 'in', 'like', 'ilike', 'similar', 'to', 'escape',
  'between', 'symmetric', 'distinct', 'from', 'any', 'some', 'all', 'array', 'case', 'when', 'then', 'else', 'end', 'cast', 'as', 'at'];
const TYPES = ['smallint', 'integer', 'int', 'int2', 'int4', 'int8', 'bigint', 'numeric', 'decimal', 'real', 'float', 'float4', 'float8', 'double',
  'precision', 'text', 'varchar', 'char', 'character', 'varying', 'boolean', 'bool', 'date', 'time', 'timestamp', 'timestamptz', 'interval', 'with',
  'without', 'zone', 'uuid', 'json', 'jsonb', 'bytea'];
const FUNCTIONS = ['lower', 'upper', 'length', 'char_length', 'character_length', 'octet_length', 'abs', 'coalesce', 'nullif', 'greatest', 'least',
  'btrim', 'ltrim', 'rtrim', 'substr', 'strpos', 'starts_with', 'left', 'right', 'replace', 'concat', 'lpad', 'rpad', 'reverse', 'round', 'trunc',
  'floor', 'ceil', 'ceiling', 'mod', 'sign', 'sqrt', 'power', 'date_trunc', 'date_part', 'array_length', 'cardinality'];
/** The aggregate functions a having() filter may call besides FILTER_WORDS. */
export const AGGREGATE_WORDS: ReadonlySet<string> = new Set(['count', 'sum', 'avg', 'min', 'max']);

/** Every word a fragment may contain (case-insensitive). Exported for the docs' test. */
export const FILTER_WORDS: ReadonlySet<string> = new Set([...KEYWORDS, ...TYPES, ...FUNCTIONS]);

const OPERATOR_CHARS = new Set('+-*/<>=~!@#%^&|?()[],:');
const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;

/**
 * The first thing in `text` a filter may not contain, described for an
 * error message, or undefined when all of it is allowed: whitespace,
 * COLUMN_MARK, VALUE_MARK (not glued to a word or a digit), numbers,
 * single-quoted strings without backslashes or marks, operator characters,
 * and FILTER_WORDS.
 */
export function forbiddenFilterText(text: string, extraWords?: ReadonlySet<string>): string | undefined {
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === COLUMN_MARK) {
      i++;
    } else if (c === VALUE_MARK) {
      // `lower$1` is one identifier to Postgres, and `$1` followed by `0` is `$10`.
      if ((i > 0 && WORD_CHAR.test(text[i - 1]!)) || /[0-9]/.test(text[i + 1] ?? '')) return 'a value glued to a word or a digit';
      i++;
    } else if (c === "'") {
      const end = stringEnd(text, i);
      if (end === undefined) return 'an unterminated string, or a value or column inside quotes';
      if (text.slice(i, end).includes('\\')) return 'a backslash in a string';
      i = end;
    } else if (/[0-9.]/.test(c)) {
      const number = NUMBER.exec(text.slice(i));
      if (!number) return '"."';
      i += number[0].length;
    } else if (WORD_START.test(c)) {
      let j = i + 1;
      while (j < text.length && WORD_CHAR.test(text[j]!)) j++;
      const word = text.slice(i, j);
      if (!FILTER_WORDS.has(word.toLowerCase()) && !extraWords?.has(word.toLowerCase())) return `"${word}"`;
      i = j;
    } else if ((c === '-' && text[i + 1] === '-') || (c === '/' && text[i + 1] === '*')) {
      return 'a comment';
    } else if (OPERATOR_CHARS.has(c)) {
      i++;
    } else {
      return JSON.stringify(c);
    }
  }
  return undefined;
}

/** The index just past the string literal opening at `start` ('' escapes a quote), or undefined if it does not close before a mark or the end. */
function stringEnd(text: string, start: number): number | undefined {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === COLUMN_MARK || c === VALUE_MARK) return undefined;
    if (c === "'") {
      if (text[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  return undefined;
}
