/** Display helpers for integer fen. Money never passes through floating point. */

/** 13620n → "136.20" (CNY). */
export function formatFen(amountFen: bigint, options: { readonly grouped?: boolean; readonly symbol?: string } = {}): string {
  const negative = amountFen < 0n;
  const abs = negative ? -amountFen : amountFen;
  const whole = abs / 100n;
  const yuan = options.grouped ? whole.toLocaleString('en-US') : whole.toString();
  const fen = (abs % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${options.symbol ?? ''}${yuan}.${fen}`;
}

/** "136.20" or "136.2" or "136" → 13620n; undefined for anything else (no rounding, ever). */
export function parseYuan(text: string): bigint | undefined {
  const m = /^(-?)(\d{1,18})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (m === null) return undefined;
  const fen = BigInt(m[2]!) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -fen : fen;
}
