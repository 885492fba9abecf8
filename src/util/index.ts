export { mapLimit } from './concurrency.ts';
export { hasOwnKey, ownValue } from './own.ts';
