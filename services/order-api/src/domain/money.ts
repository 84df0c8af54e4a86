const DECIMAL = /^(\d+)(?:\.(\d{1,2}))?$/;

/**
 * Converts a decimal amount with at most two fraction digits to integer minor units, exactly:
 * it reads the number's shortest decimal text, so 0.1 + 0.2 style float error never enters.
 * Returns `undefined` when the amount has more precision, is negative or not finite.
 */
export function toMinorUnits(amount: number): number | undefined {
  if (!Number.isFinite(amount) || amount < 0) return undefined;
  const match = DECIMAL.exec(String(amount));
  if (!match) return undefined;
  const whole = Number(match[1]);
  const fraction = Number((match[2] ?? '').padEnd(2, '0'));
  const minor = whole * 100 + fraction;
  return Number.isSafeInteger(minor) ? minor : undefined;
}

/** Formats minor units back as a decimal number (for responses). */
export function fromMinorUnits(minor: number): number {
  return minor / 100;
}
