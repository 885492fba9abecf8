/** Option value parsers shared by the commands. */
import { SluiceError } from '../errors.ts';

/** A commander parser for `--flag <n>` that must be a positive integer. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) {
      throw new SluiceError('USAGE', 'usage', `${flag} must be a positive integer (got "${value}")`);
    }
    return n;
  };
}
