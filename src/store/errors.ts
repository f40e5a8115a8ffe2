/** Errors the store throws on purpose (driver errors pass through untouched). */

/** A cursor that this list never produced: malformed, tampered with, or from another list. */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor(list: string, why: string) {
    super(`invalid cursor for ${list}: ${why}`);
    this.name = 'InvalidCursorError';
  }
}

/**
 * Another exchange process (or another store object in this process) holds the store's writer
 * lock: two command loops on one journal would each build memory the other does not see.
 */
export class StoreLockedError extends Error {
  readonly code = 'STORE_LOCKED';
  constructor(message: string) {
    super(message);
    this.name = 'StoreLockedError';
  }
}

/**
 * The journal batch does not continue the stored journal (a gap, a repeat, or a second writer).
 * The command loop must stop: its memory no longer matches the system of record.
 */
export class JournalSequenceError extends Error {
  readonly code = 'JOURNAL_SEQUENCE';
  constructor(message: string) {
    super(message);
    this.name = 'JournalSequenceError';
  }
}
