/**
 * Splits a byte stream into text lines for `lease.log`. Lines longer than MAX_LOG_LINE_CHARS are
 * cut (the rest of that line is dropped until its newline), so a program that prints megabytes
 * without a newline cannot grow the agent's memory.
 */
import { StringDecoder } from 'node:string_decoder';
import { MAX_LOG_LINE_CHARS } from '../protocol.js';

const CUT_MARK = ' [cut]';

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** True while the current line has been cut and its tail is being skipped. */
  private skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxChars: number = MAX_LOG_LINE_CHARS,
  ) {}

  push(chunk: Buffer | string): void {
    this.feed(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  }

  /** Emits a last line without a trailing newline. */
  end(): void {
    this.feed(this.decoder.end());
    if (this.partial !== '' && !this.skipping) this.onLine(stripCr(this.partial));
    this.partial = '';
    this.skipping = false;
  }

  private feed(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const piece = nl < 0 ? text.slice(start) : text.slice(start, nl);
      if (!this.skipping) {
        this.partial += piece;
        if (this.partial.length > this.maxChars) {
          this.onLine(`${this.partial.slice(0, this.maxChars - CUT_MARK.length)}${CUT_MARK}`);
          this.partial = '';
          this.skipping = true;
        }
      }
      if (nl < 0) return;
      if (!this.skipping) this.onLine(stripCr(this.partial));
      this.partial = '';
      this.skipping = false;
      start = nl + 1;
    }
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
