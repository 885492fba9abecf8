/**
 * `spec.catalog`: curated images.
 */
import { boolean, object, withDefault } from '../validate.ts';
import { template } from './scalars.ts';

export const catalog = object({
  enabled: withDefault(boolean(), false),
  repository: withDefault(template(['repo'], ['repo']), 'catalog/{repo}'),
});
