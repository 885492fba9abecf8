export { mapLimit } from './concurrency.ts';
export { hasOwnKey, ownValue, setOwnKey } from './own.ts';
