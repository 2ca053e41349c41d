/**
 * SQL literal redaction for query logs: string and numeric literals become `?`, everything else (keywords,
 * identifiers, quoted identifiers, operators, comments, whitespace) is kept byte for byte, so a redacted statement
 * still reads like the original and groups with its siblings ("same query, other values").
 *
 * A single left-to-right scan over Trino's lexical rules (io.trino.sql.parser, SqlBase.g4), not a parser: it never
 * fails, and text it cannot classify is kept. Unterminated strings are redacted to the end of the text (the safe
 * side). Pure: no I/O.
 *
 * @module
 */

/** What {@link redactSqlLiterals} replaced, for metrics and tests. */
export interface RedactionResult {
  /** The statement with every literal replaced by `?`. */
  readonly sql: string;
  /** Number of literals replaced. */
  readonly redacted: number;
}

const IDENT_CHAR = /[\p{L}\p{N}_$@]/u;
const DIGIT = /[0-9]/;

function isIdentChar(ch: string | undefined): boolean {
  return ch !== undefined && IDENT_CHAR.test(ch);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && DIGIT.test(ch);
}

/** Index just past a `'…'` string starting at `start` (the quote); `''` is an escaped quote. */
function endOfString(sql: string, start: number, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === "'") {
      if (sql[i + 1] === "'") {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return sql.length;
}

/** Index just past a quoted identifier (`"…"` or `` `…` ``) starting at `start`; a doubled quote escapes it. */
function endOfQuotedIdentifier(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return sql.length;
}

/** Index just past a numeric literal starting at `start` (a digit, or `.` followed by a digit). */
function endOfNumber(sql: string, start: number): number {
  let i = start;
  const radix = sql[i] === '0' ? sql[i + 1]?.toLowerCase() : undefined;
  if (radix === 'x' || radix === 'b' || radix === 'o') {
    i += 2;
    while (i < sql.length && /[0-9a-fA-F_]/.test(sql[i] ?? '')) i += 1;
    return i;
  }
  while (isDigit(sql[i]) || (sql[i] === '_' && isDigit(sql[i + 1]))) i += 1;
  if (sql[i] === '.' && sql[i + 1] !== '.') {
    i += 1;
    while (isDigit(sql[i]) || (sql[i] === '_' && isDigit(sql[i + 1]))) i += 1;
  }
  const e = sql[i];
  if (
    (e === 'e' || e === 'E') &&
    (isDigit(sql[i + 1]) || (/[+-]/.test(sql[i + 1] ?? '') && isDigit(sql[i + 2])))
  ) {
    i += 2;
    while (isDigit(sql[i])) i += 1;
  }
  return i;
}

/**
 * Replaces the string and numeric literals of a SQL statement with `?`.
 *
 * Replaced: `'…'` (with `''` escapes), `E'…'` (backslash escapes), `X'…'` (binary), `U&'…'` (Unicode), and
 * numbers (`42`, `1_000`, `3.14`, `.5`, `1e-3`, `0x1F`). The keyword of a typed literal stays
 * (`DATE '2024-01-01'` → `DATE ?`), and so does a sign (`-5` → `-?`).
 * Kept: identifiers, digits inside identifiers (`t1`, `col_2`), quoted identifiers (`"it's 42"`, `` `x` ``),
 * `--` and `/* … *\/` comments (a quote inside a comment opens no string), bind parameters (`?`).
 * @param sql - Statement text as Trino received it.
 * @returns The redacted text and the number of literals replaced.
 * @example redactSqlLiterals("SELECT * FROM t1 WHERE name = 'it''s' AND id > 42").sql
 *   // "SELECT * FROM t1 WHERE name = ? AND id > ?"
 */
export function redactSqlLiterals(sql: string): RedactionResult {
  let out = '';
  let redacted = 0;
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] ?? '';
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === '"' || ch === '`') {
      const stop = endOfQuotedIdentifier(sql, i, ch);
      out += sql.slice(i, stop);
      i = stop;
    } else if (ch === "'") {
      out += '?';
      redacted += 1;
      i = endOfString(sql, i, false);
    } else if (isIdentChar(ch) && !isDigit(ch)) {
      // A prefixed literal (E'…', X'…', U&'…') is only a prefix when the letter starts a word.
      const upper = ch.toUpperCase();
      if ((upper === 'E' || upper === 'X') && next === "'") {
        out += '?';
        redacted += 1;
        i = endOfString(sql, i + 1, upper === 'E');
      } else if (upper === 'U' && next === '&' && sql[i + 2] === "'") {
        out += '?';
        redacted += 1;
        i = endOfString(sql, i + 2, false);
      } else {
        let stop = i + 1;
        while (isIdentChar(sql[stop])) stop += 1;
        out += sql.slice(i, stop);
        i = stop;
      }
    } else if (isDigit(ch) || (ch === '.' && isDigit(next))) {
      const stop = endOfNumber(sql, i);
      if (isIdentChar(sql[stop])) {
        // `1abc`: Trino's DIGIT_IDENTIFIER, not a number; keep the whole word.
        let end = stop;
        while (isIdentChar(sql[end])) end += 1;
        out += sql.slice(i, end);
        i = end;
      } else {
        out += '?';
        redacted += 1;
        i = stop;
      }
    } else {
      out += ch;
      i += 1;
    }
  }
  return { sql: out, redacted };
}
