/**
 * Preloaded into `sluice serve` by crash-guard.test.ts (`NODE_OPTIONS=--import`): on SIGUSR2,
 * errors escape every handler, as a stream without an error listener would let one escape.
 * `STRAY_ERROR=peer`: a reset connection, as an 'error' event and as a rejection nobody awaits;
 * `STRAY_ERROR=bug`: a TypeError thrown from a timer.
 */
import { PassThrough } from 'node:stream';

process.on('SIGUSR2', () => {
  if (process.env.STRAY_ERROR === 'peer') {
    const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    new PassThrough().destroy(reset());
    void Promise.reject(reset());
  } else {
    setTimeout(() => {
      throw new TypeError('stray bug');
    });
  }
});
