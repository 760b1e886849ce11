/** C99 hexadecimal floating literals ("-0x1.57bf7808caadep-2"), so constants read exactly as in C. */

const HEX_FLOAT = /^(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)$/i;

/** Parses a hex float literal exactly (at most 53 significant bits, normal range). */
export function hexFloat(literal: string): number {
  const m = HEX_FLOAT.exec(literal);
  if (!m) throw new SyntaxError(`hexFloat: not a hexadecimal float literal: ${JSON.stringify(literal)}`);
  const [, sign, whole, frac = '', exp] = m;
  const significand = Number.parseInt(whole + frac, 16);
  if (!Number.isSafeInteger(significand)) throw new RangeError(`hexFloat: too many digits in ${literal}`);
  // significand < 2^53 and the scale is a power of two: both steps are exact
  const value = significand * 2 ** (Number(exp) - 4 * frac.length);
  return sign ? -value : value;
}
