/**
 * Keeps memory flat while blobs stream. Every socket read hands over a fresh 64 KiB buffer;
 * once forwarded it is garbage, but V8 frees such buffers only when it collects, and it counts
 * them as external memory that triggers a collection only after tens of MiB. A long copy would
 * grow by that much before anything is freed. A young-generation collection every few MiB
 * streamed keeps the growth bounded whatever the image size, for well under a millisecond each.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

type Collect = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

const EVERY_BYTES = 8 * 1024 * 1024;
let collect: Collect | null | undefined;
let streamed = 0;

function collector(): Collect | null {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as Collect;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Accounts bytes that passed through a blob stream (all streams of the process together). */
export function streamedBytes(n: number): void {
  streamed += n;
  if (streamed < EVERY_BYTES) return;
  streamed = 0;
  collector()?.({ type: 'minor' });
}
