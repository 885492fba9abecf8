import type { ErrorCategory } from '../errors.ts';

export interface StatusCategoryOptions<Other extends ErrorCategory, Override extends ErrorCategory> {
  /**
   * What any other status is (a 4xx without a meaning of its own, an unexpected 3xx); APIs
   * differ on whether that is the input's fault or theirs. Default `invalid-input`.
   */
  otherClientError?: Other;
  /** Statuses an API documents with a meaning of its own. */
  overrides?: Readonly<Partial<Record<number, Override>>>;
}

/**
 * The category of a non-2xx answer when the body says nothing more specific. Typed by what
 * it can return, so a code whose categories are fixed only accepts what fits it.
 */
export function categoryForStatus<
  Other extends ErrorCategory = 'invalid-input',
  Override extends ErrorCategory = never,
>(
  status: number,
  options: StatusCategoryOptions<Other, Override> = {},
): 'unauthorized' | 'forbidden' | 'not-found' | 'unavailable' | Other | Override {
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
    default:
      return status >= 500 || status === 429 ? 'unavailable' : (options.otherClientError ?? ('invalid-input' as Other));
  }
}
