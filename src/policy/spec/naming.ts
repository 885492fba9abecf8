/**
 * `spec.naming`: repository and version tag names.
 */
import { DEFAULT_REPOSITORY_NAME, DEFAULT_VERSION_TAG } from '../schema.ts';
import { object, withDefault } from '../validate.ts';
import { regex } from './scalars.ts';

export const naming = object({
  repository: withDefault(regex, DEFAULT_REPOSITORY_NAME),
  versionTag: withDefault(regex, DEFAULT_VERSION_TAG),
});
