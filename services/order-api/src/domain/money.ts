/**
 * Money is exact: amounts arrive as decimal text and become integer minor units (cents) by
 * string arithmetic, never through a double.
 *
 * Bounds: every amount the API accepts or answers has at most 15 significant digits (at most
 * 13 before the decimal point, 2 after), so it is also exact as a JSON number any client
 * parses into a double, and its minor units stay far below `Number.MAX_SAFE_INTEGER` (2^53 − 1).
 */

/** Largest unit price, in minor units: 1,000,000,000.00. */
export const MAX_PRICE_MINOR = 100_000_000_000;
/** Largest order total (submitted or computed), in minor units: 9,999,999,999,999.99. */
export const MAX_TOTAL_MINOR = 999_999_999_999_999;

/** Why a decimal text is not an amount. */
export type AmountProblem = 'not_a_number' | 'negative' | 'too_precise' | 'too_large';

/** The minor units of an amount, or why it is not one. */
export type MinorUnitsResult = { ok: true; minor: number } | { ok: false; problem: AmountProblem };

/** A JSON number's grammar (RFC 8259), split into sign, integer, fraction and exponent. */
const JSON_NUMBER = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * Converts the decimal text of a JSON number (`"19.99"`, `"1.10"`, `"2e2"`) to integer minor
 * units exactly, within `maxMinor`. Trailing zeros do not count as precision (`1.100` is 110);
 * `0.30000000000000001` is too precise, although a double would read it as 0.3.
 */
export function minorUnitsOf(text: string, maxMinor: number): MinorUnitsResult {
  const match = JSON_NUMBER.exec(text);
  if (!match) return { ok: false, problem: 'not_a_number' };
  const [, sign, whole, fraction = '', exponentText = '0'] = match as unknown as [
    string,
    string,
    string,
    string?,
    string?,
  ];
  // value = digits × 10^exponent, digits without leading or trailing zeros.
  let digits = `${whole}${fraction}`.replace(/^0+/, '');
  let exponent = Number(exponentText) - fraction.length;
  if (digits === '') return { ok: true, minor: 0 }; // any zero, also -0 and 0e999
  if (sign === '-') return { ok: false, problem: 'negative' };
  const trailingZeros = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailingZeros);
  exponent += trailingZeros;
  // In minor units the value is digits × 10^(exponent + 2): a negative power means sub-cent precision.
  const scale = exponent + 2;
  if (!Number.isFinite(scale)) return { ok: false, problem: scale > 0 ? 'too_large' : 'too_precise' };
  if (scale < 0) return { ok: false, problem: 'too_precise' };
  // Checked before building the digits, so `1e999999999` costs nothing.
  if (digits.length + scale > String(maxMinor).length) return { ok: false, problem: 'too_large' };
  const minor = BigInt(`${digits}${'0'.repeat(scale)}`);
  if (minor > BigInt(maxMinor)) return { ok: false, problem: 'too_large' };
  return { ok: true, minor: Number(minor) };
}

/**
 * The decimal text of a JavaScript number: its shortest round-trip form, which is what
 * `JSON.stringify` would send. Used where a number did not come from request text.
 */
export function decimalTextOf(value: number): string {
  return Number.isFinite(value) ? JSON.stringify(value) : String(value);
}

/**
 * Minor units as a decimal number for responses. Exact for every amount within the bounds
 * above: a correctly rounded division of an integer below 10^15 prints back as its decimal.
 */
export function fromMinorUnits(minor: number): number {
  return minor / 100;
}

/** Minor units as decimal text (`1999` → `"19.99"`), for messages. */
export function formatMinorUnits(minor: number | bigint): string {
  const text = String(minor).padStart(3, '0');
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}
