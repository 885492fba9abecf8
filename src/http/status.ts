import type { ErrorCategory } from '../errors.ts';

export interface StatusCategoryOptions {
  /** What a 4xx without a meaning of its own is; APIs differ on whether that is our fault or theirs. */
  otherClientError?: ErrorCategory;
  /** Statuses an API documents with a meaning of its own. */
  overrides?: Readonly<Partial<Record<number, ErrorCategory>>>;
}

/** The category of a non-2xx answer when the body says nothing more specific. */
export function categoryForStatus(status: number, options: StatusCategoryOptions = {}): ErrorCategory {
  const override = options.overrides?.[status];
  if (override !== undefined) return override;
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
    case 410:
      return 'not-found';
    case 409:
      return 'conflict';
    case 408:
    case 429:
      return 'unavailable';
    default:
      return status >= 400 && status < 500 ? (options.otherClientError ?? 'invalid-input') : 'unavailable';
  }
}
