// The continuation panel's page, as pure functions (no `vscode` import) so the lead can test the
// escaping and the CSP with `node --test`. Model output never becomes markup: it travels as JSON
// in a data block and media/continuation.js builds the DOM with textContent.

import { runsByLevel, utf8ByteLength } from './bytes';
import type { CompleteResult, ExecutionProvider } from '../engine/api';

/** Upper bounds (bits per byte) of confidence levels 0..3; anything above is level 4. */
export const CONFIDENCE_LEVELS = [0.5, 1.5, 3, 5] as const;

export function confidenceLevel(bitsPerByte: number): number {
  const i = CONFIDENCE_LEVELS.findIndex((bound) => bitsPerByte < bound);
  return i === -1 ? CONFIDENCE_LEVELS.length : i;
}

export interface ContinuationView {
  file: string;
  model: string;
  device: string;
  /** Wall-clock seconds of the whole generation, as the extension measured it. */
  seconds: number;
  bytesPerSecond: number;
  contextBytes: number;
  firstByteMs: number;
  candidates: {
    bytes: number;
    bitsPerByte: number;
    stoppedBy: string;
    /** `[text, level, bitsPerByte]`: level -1 where no bits were given; a tuple keeps the JSON small. */
    runs: [string, number, number][];
  }[];
}

const EP_LABELS: Record<ExecutionProvider, string> = { cuda: 'CUDA', webgpu: 'WebGPU', cpu: 'CPU' };

export function epLabel(ep: ExecutionProvider): string {
  return EP_LABELS[ep] ?? ep;
}

/** The figures and shaded runs of a generation, ready to serialize. */
export function continuationView(file: string, model: string, result: CompleteResult, seconds: number): ContinuationView {
  const candidates = result.candidates.map((c) => {
    const bytes = utf8ByteLength(c.text);
    const bits = c.bits.slice(0, bytes);
    const total = bits.reduce((a, b) => a + b, 0);
    return {
      bytes,
      bitsPerByte: bits.length > 0 ? total / bits.length : NaN,
      stoppedBy: c.stoppedBy,
      runs: runsByLevel(c.text, c.bits, confidenceLevel).map((r): [string, number, number] => [r.text, r.level, round(r.bitsPerByte)]),
    };
  });
  const generated = candidates.reduce((a, c) => a + c.bytes, 0);
  return {
    file,
    model,
    device: epLabel(result.ep),
    seconds,
    bytesPerSecond: seconds > 0 ? generated / seconds : 0,
    contextBytes: result.contextBytes,
    firstByteMs: result.ms.first,
    candidates,
  };
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : -1;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a <script> data block: `<` and `>` can't close the element, `&`
 * can't start an entity, and U+2028/U+2029 (line terminators to older JS parsers) are escaped.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface ContinuationPage {
  /** `webview.cspSource`. */
  cspSource: string;
  /** Fresh per page: only the script carrying it may run. */
  nonce: string;
  scriptUri: string;
  styleUri: string;
  view: ContinuationView;
}

export function buildContinuationHtml(page: ContinuationPage): string {
  const csp = `default-src 'none'; style-src ${page.cspSource}; script-src 'nonce-${page.nonce}';`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(page.styleUri)}">
<title>MEGABYTE continuation</title>
</head>
<body>
<main id="root"></main>
<script type="application/json" id="megabyte-data">${jsonForScript(page.view)}</script>
<script nonce="${escapeHtml(page.nonce)}" src="${escapeHtml(page.scriptUri)}"></script>
</body>
</html>
`;
}
