export { activeHolds, insertHold, releaseHolds, type Hold } from './records.ts';
export { addHold, releaseHold } from './service.ts';
