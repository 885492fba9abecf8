export { mapLimit } from './concurrency.ts';
