/**
 * @internal Exact decimal arithmetic on the text of Postgres numeric and
 * bigint values, for combining partial aggregates of several shards the way
 * one Postgres would compute them: sums keep the largest input scale, and
 * avg divides as `numeric_div` does (its select_div_scale: at least 16
 * significant digits, never fewer decimals than either input; rounded half
 * away from zero).
 */
export interface Decimal {
  /** The value times 10^scale. */
  readonly unscaled: bigint;
  readonly scale: number;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** Parses a plain decimal text (no exponent, no NaN); undefined when it is not one. */
export function parseDecimal(text: string): Decimal | undefined {
  const match = DECIMAL.exec(text.trim());
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) return undefined;
  const fraction = match[3] ?? '';
  const unscaled = BigInt(`${match[2] || '0'}${fraction}`);
  return { unscaled: match[1] === '-' ? -unscaled : unscaled, scale: fraction.length };
}

export function formatDecimal(d: Decimal): string {
  const negative = d.unscaled < 0n;
  const digits = (negative ? -d.unscaled : d.unscaled).toString().padStart(d.scale + 1, '0');
  const integer = digits.slice(0, digits.length - d.scale);
  const fraction = digits.slice(digits.length - d.scale);
  return `${negative ? '-' : ''}${integer}${d.scale > 0 ? `.${fraction}` : ''}`;
}

export function addDecimals(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { unscaled: rescale(a, scale) + rescale(b, scale), scale };
}

/** `a / b` as Postgres's numeric division rounds it (b non-zero). */
export function divideDecimals(a: Decimal, b: Decimal): Decimal {
  const [weight1, first1] = leadingDigit(a);
  const [weight2, first2] = leadingDigit(b);
  let quotientWeight = weight1 - weight2;
  if (first1 <= first2) quotientWeight--;
  const scale = Math.min(Math.max(16 - quotientWeight * 4, a.scale, b.scale, 0), 1000);
  // a / b at `scale` decimals: (a.unscaled * 10^(scale - a.scale + b.scale)) / b.unscaled, rounded half away from zero.
  const shift = scale - a.scale + b.scale;
  const numerator = shift >= 0 ? a.unscaled * 10n ** BigInt(shift) : a.unscaled / 10n ** BigInt(-shift);
  const denominator = b.unscaled;
  let quotient = numerator / denominator;
  const remainder = numerator % denominator;
  const abs = (x: bigint): bigint => (x < 0n ? -x : x);
  if (2n * abs(remainder) >= abs(denominator)) quotient += (numerator < 0n) === (denominator < 0n) ? 1n : -1n;
  return { unscaled: quotient, scale };
}

function rescale(d: Decimal, scale: number): bigint {
  return d.unscaled * 10n ** BigInt(scale - d.scale);
}

/**
 * The weight (position, in base-10000 digits from the decimal point) and
 * value of the first non-zero base-10000 digit, as Postgres stores numerics;
 * [0, 0] for zero.
 */
function leadingDigit(d: Decimal): [number, number] {
  if (d.unscaled === 0n) return [0, 0];
  const text = formatDecimal({ unscaled: d.unscaled < 0n ? -d.unscaled : d.unscaled, scale: d.scale });
  const [integer = '', fraction = ''] = text.split('.');
  const whole = integer.replace(/^0+/, '');
  if (whole !== '') {
    const weight = Math.floor((whole.length - 1) / 4);
    const firstGroup = whole.length - weight * 4;
    return [weight, Number(whole.slice(0, firstGroup))];
  }
  const padded = fraction.padEnd(Math.ceil(fraction.length / 4) * 4, '0');
  for (let group = 0; group * 4 < padded.length; group++) {
    const value = Number(padded.slice(group * 4, group * 4 + 4));
    if (value !== 0) return [-(group + 1), value];
  }
  return [0, 0];
}
