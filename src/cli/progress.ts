/**
 * A one-line progress display for long operations, on stderr, only when stderr is a
 * terminal and no machine-readable output was asked for. In pipelines it prints nothing.
 */
import { escapeToLine } from '../text.ts';
import { formatBytes } from './output.ts';

export interface ProgressSink {
  addTotal(bytes: number, items?: number): void;
  addDone(bytes: number): void;
  itemDone(): void;
  finish(): void;
}

const silent: ProgressSink = { addTotal() {}, addDone() {}, itemDone() {}, finish() {} };

export function createProgress(
  label: string,
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressSink {
  if (!enabled || !stream.isTTY || process.env.TERM === 'dumb') return silent;
  let totalBytes = 0;
  let doneBytes = 0;
  let totalItems = 0;
  let doneItems = 0;
  const started = performance.now();
  const render = () => {
    const secs = (performance.now() - started) / 1000;
    const rate = secs > 0 ? doneBytes / secs : 0;
    const pct = totalBytes > 0 ? Math.min(100, Math.floor((doneBytes / totalBytes) * 100)) : 0;
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const items = totalItems > 0 ? `  ${doneItems}/${totalItems}` : '';
    // Without known totals (a stream of records) only the count moves, so only the count is shown.
    const line =
      totalBytes === 0 && doneBytes === 0
        ? `${label}  ${doneItems}${totalItems > 0 ? `/${totalItems}` : ''}`
        : `${label} [${bar}] ${formatBytes(doneBytes)} / ${formatBytes(totalBytes)}  ${formatBytes(rate)}/s${items}`;
    // The line is escaped like all other output; the carriage return and erase-line are the display's own.
    stream.write(`\r${escapeToLine(line)}\x1b[K`);
  };
  const timer = setInterval(render, 100);
  timer.unref();
  return {
    addTotal(bytes, items = 0) {
      totalBytes += bytes;
      totalItems += items;
    },
    addDone(bytes) {
      doneBytes += bytes;
    },
    itemDone() {
      doneItems++;
    },
    finish() {
      clearInterval(timer);
      render();
      stream.write('\n');
    },
  };
}
