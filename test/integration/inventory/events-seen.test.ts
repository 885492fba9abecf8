/** Delivery ids chosen by the sender are deduplicated exactly, on both engines. */
import assert from 'node:assert/strict';
import { markEventSeen } from '../../../src/inventory/apply.ts';
import { forEachEngine } from '../../helpers/db.ts';

forEachEngine('long delivery ids that share a prefix are told apart; a repeat is a duplicate', async ({ store }) => {
  const prefix = 'x'.repeat(600);
  assert.equal(await markEventSeen(store, 'distribution', `${prefix}-1`, 1), true);
  assert.equal(await markEventSeen(store, 'distribution', `${prefix}-2`, 1), true, 'not a duplicate of -1');
  assert.equal(await markEventSeen(store, 'distribution', `${prefix}-1`, 2), false, 'the same id again');
});

forEachEngine('delivery ids with a NUL or a split surrogate pair are recorded, not refused', async ({ store }) => {
  // 511 characters and then an emoji: cutting at 512 would split its surrogate pair.
  const ids = ['local:evt\u00001', 'local:evt\u00002', `${'y'.repeat(511)}\u{1F433}`, 'local:\ud800'];
  for (const id of ids) assert.equal(await markEventSeen(store, 'distribution', id, 1), true, JSON.stringify(id));
  for (const id of ids) assert.equal(await markEventSeen(store, 'distribution', id, 2), false, JSON.stringify(id));
  const rows = await store.db.selectFrom('events_seen').select('event_id').execute();
  assert.equal(rows.length, ids.length);
});
