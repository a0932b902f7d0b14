// Latency trace for the real-editor benchmark (test/e2e/latency.mjs): with MEGABYTE_TRACE set
// to a file path, each completion request appends one JSON line with the epoch time of each of
// its phases (the browser, the extension host and the worker share the machine's clock). Unset,
// every call is a no-op. Lines are buffered and written asynchronously, never on the keystroke's path.
import * as fs from 'node:fs';

const FILE = process.env.MEGABYTE_TRACE;
let buffer: string[] = [];
let timer: NodeJS.Timeout | undefined;

/** Epoch milliseconds with sub-millisecond precision (the same clock in every thread and process). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

export const tracing = FILE !== undefined && FILE !== '';

export function trace(record: Record<string, unknown>): void {
  if (!tracing) return;
  buffer.push(JSON.stringify(record));
  timer ??= setTimeout(flush, 200);
}

function flush(): void {
  timer = undefined;
  const lines = buffer;
  buffer = [];
  if (lines.length) fs.appendFile(FILE!, lines.join('\n') + '\n', () => undefined);
}
