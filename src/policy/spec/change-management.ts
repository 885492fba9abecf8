/**
 * `spec.changeManagement`: the change-management system promotions are recorded in.
 */
import { object, oneOf, required } from '../validate.ts';
import { httpUrl, secretRef } from './scalars.ts';

export const changeManagement = object({
  kind: required(oneOf(['servicenow'] as const)),
  url: required(httpUrl),
  credentials: required(secretRef),
});
