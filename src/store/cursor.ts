/**
 * Keyset cursors: base64url of JSON `[list, sortKey, id]`, the last row a page returned.
 * Opaque to clients; decoding checks the shape and that the cursor belongs to the list asking.
 */
import { InvalidCursorError } from './errors.js';

export interface CursorPosition {
  readonly sortKey: number;
  readonly id: string;
}

const MAX_CURSOR_CHARS = 1_024;
const MAX_CURSOR_ID_CHARS = 512;

export function encodeCursor(list: string, position: CursorPosition): string {
  return Buffer.from(JSON.stringify([list, position.sortKey, position.id]), 'utf8').toString('base64url');
}

/** Null or undefined means the first page. */
export function decodeCursor(list: string, cursor: string | null | undefined): CursorPosition | null {
  if (cursor === undefined || cursor === null) return null;
  if (typeof cursor !== 'string' || cursor.length === 0) throw new InvalidCursorError(list, 'empty');
  if (cursor.length > MAX_CURSOR_CHARS) throw new InvalidCursorError(list, 'too long');
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new InvalidCursorError(list, 'not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(list, 'not a cursor');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw new InvalidCursorError(list, 'not a cursor');
  const [owner, sortKey, id] = parsed as unknown[];
  if (owner !== list) throw new InvalidCursorError(list, 'it belongs to another list');
  if (typeof sortKey !== 'number' || !Number.isSafeInteger(sortKey)) throw new InvalidCursorError(list, 'bad position');
  if (typeof id !== 'string' || id.length > MAX_CURSOR_ID_CHARS) throw new InvalidCursorError(list, 'bad position');
  return { sortKey, id };
}
