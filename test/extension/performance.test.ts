// A 1 MB document: the engine encodes up to 1,000,000 bytes of context in its worker thread, so
// the extension host (where every extension's UI work runs) must stay responsive meanwhile.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ScoreResult } from '../../src/engine/api';
import { lineScores } from '../../src/extension/bytes';
import { RULER_CAP, SURPRISAL_LEVELS } from '../../src/extension/surprisal';
import {
  accept,
  eventLoopMonitor,
  quietEventLoop,
  getExtension,
  openDoc,
  report,
  sleep,
  suggest,
  utf8Bytes,
  waitFor,
  type LoopGaps,
  type MegabyteApi,
  useReadyExtension,
} from './helpers';

/** Generous: a cold 1 MB encode on 2 cores shared with a training run. */
const SUGGESTION_TIMEOUT_MS = Number(process.env.MEGABYTE_1MB_TIMEOUT_MS) || 120_000;
const MAX_GAP_MS = 250;
const MAX_BUSY_ENCODING_MS = 50;
const MAX_TYPING_BUSY_MS = 500;
const TARGET_BYTES = 1_000_000;

/** ~1 MB of real source: the extension's own TypeScript, repeated, each copy headed by its path. */
function megabyteOfSource(): string {
  const root = getExtension().extensionPath;
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) files.push(p);
    }
  };
  walk(path.join(root, 'src'));
  assert.ok(files.length > 0, 'the extension ships its sources');
  const parts: string[] = [];
  let bytes = 0;
  for (let round = 0; bytes < TARGET_BYTES; round++) {
    for (const f of files) {
      const part = `// ---- ${path.relative(root, f)} (copy ${round + 1})\n${fs.readFileSync(f, 'utf8')}\n`;
      parts.push(part);
      bytes += utf8Bytes(part);
      if (bytes >= TARGET_BYTES) break;
    }
  }
  return parts.join('');
}

function fmt(g: LoopGaps): string {
  return `${g.maxGapMs.toFixed(0)} ms (busy ${g.busyInMaxGapMs.toFixed(0)} ms of it, at +${(g.atMs / 1000).toFixed(1)} s)`;
}

describe('performance', () => {
  let api: MegabyteApi;
  useReadyExtension((a) => (api = a));

  describe('1 MB document responsive', () => {
    it('a 1 MB document gets a suggestion, and the extension host event loop never stalls 250 ms while it is encoded', async function () {
      this.timeout(SUGGESTION_TIMEOUT_MS + 120_000);
      const text = megabyteOfSource() + '\nexport function clampToRange(value: number, lo: number, hi: number): number {\n  return ';
      assert.ok(utf8Bytes(text) >= TARGET_BYTES, 'the document is at least 1 MB');

      // Start from a quiet extension host (no built-in extension still activating); the window
      // that passed is the machine's own baseline with other processes competing for the cores.
      const baseline = await quietEventLoop();

      const opening = eventLoopMonitor();
      const t0 = Date.now();
      // Plain text: the figure is this extension's, not a language server's parsing 1 MB of duplicate declarations.
      const editor = await openDoc(text, 'plaintext');
      const openMs = Date.now() - t0;
      const open = opening.stop();
      // What DocumentSync costs this thread per version: the text out of VS Code, cloned into a message to the worker.
      const c0 = performance.now();
      structuredClone(editor.document.getText());
      const syncCopyMs = performance.now() - c0;

      // Trigger at the end; the engine encodes ~1,000,000 bytes in its worker meanwhile.
      const encoding = eventLoopMonitor();
      const t1 = Date.now();
      let texts: string[];
      try {
        texts = await suggest(api, editor, SUGGESTION_TIMEOUT_MS);
      } catch (err) {
        report(`1 MB: no suggestion; longest event-loop gap meanwhile ${fmt(encoding.stop())}`);
        throw err;
      }
      const gaps = encoding.stop();
      const suggestMs = Date.now() - t1;
      assert.ok(texts.length > 0);
      await sleep(300);
      const inserted = await accept(editor);
      assert.ok(inserted.length > 0, 'the suggestion can be accepted');
      // The first suggestion came from the text near the cursor; the whole prefix goes on encoding in the background.
      // (the status bar's hover says so, and the status shows the encoding until it is done)
      const fromNear = api.statusTooltip().includes('came from the text near the cursor');
      if (fromNear) await waitFor('the background to encode the full context', () => api.statusText().includes('encoding'), 10_000, 20);
      await waitFor('the full context to be encoded', () => !api.statusText().includes('encoding'), SUGGESTION_TIMEOUT_MS, 50);
      const fullMs = Date.now() - t0;

      // Warm: keystrokes at the end of the 1 MB document (each one syncs 1 MB to the worker), then another suggestion.
      const typing = eventLoopMonitor();
      const sync0 = api.syncStats();
      const keyMs: number[] = [];
      for (const ch of ' + 1;') {
        const k = Date.now();
        await vscode.commands.executeCommand('type', { text: ch });
        keyMs.push(Date.now() - k);
        await sleep(30);
      }
      const t2 = Date.now();
      await suggest(api, editor, 60_000);
      const warmMs = Date.now() - t2;
      const typed = typing.stop();
      const sync1 = api.syncStats();
      const fullChars = sync1.fullChars - sync0.fullChars;

      report(
        `1 MB: ${utf8Bytes(text)} bytes; quiet baseline ${fmt(baseline)} after ${baseline.waitedMs} ms; open ${openMs} ms (${fmt(open)}); 1 MB getText + clone ${syncCopyMs.toFixed(1)} ms; ` +
          `first suggestion (${fromNear ? 'from the 4 KB near the cursor' : 'from the full context'}) after ${suggestMs} ms (open to first ghost text ${openMs + suggestMs} ms), longest event-loop gap while encoding ${fmt(gaps)} over ${gaps.ticks} ticks; ` +
          `full context encoded ${fullMs} ms after the open; ` +
          `then keystrokes ${keyMs.join('/')} ms and a warm suggestion in ${warmMs} ms (${fmt(typed)}); ` +
          `sent to the engine meanwhile: ${sync1.edits - sync0.edits} edits, ${sync1.full - sync0.full} whole texts (${fullChars} UTF-16 units)`,
      );
      // Each keystroke in the 1 MB document reaches the worker as an edit, not as a 1 MB copy.
      assert.ok(sync1.edits - sync0.edits >= keyMs.length, `keystrokes sent as edits: ${sync1.edits - sync0.edits} of ${keyMs.length}`);
      assert.equal(fullChars, 0, 'no whole text was copied to the worker while typing');
      // The longest gap counts against the extension host only when it spent that gap busy: on 2
      // cores shared with the worker, Chromium and code-server, a thread the OS did not schedule is
      // the machine, not the code (the engine benchmark measures the stall on a quiet machine).
      assert.ok(gaps.maxGapMs < MAX_GAP_MS || gaps.busyInMaxGapMs < MAX_BUSY_ENCODING_MS,
        `the extension host's event loop stalled ${fmt(gaps)} while encoding (limit ${MAX_GAP_MS} ms, or ${MAX_BUSY_ENCODING_MS} ms of it busy)`);
      // While typing, the worker generates on every key and the cores are shared: only a stall the
      // extension host itself spent busy counts (a descheduled thread is the machine, not the code),
      // and garbage collection of the 1 MB copies lands here too, hence the looser bound.
      assert.ok(typed.busyInMaxGapMs < MAX_TYPING_BUSY_MS, `the extension host's event loop was busy ${fmt(typed)} while typing (limit ${MAX_TYPING_BUSY_MS} ms)`);
    });
  });
  describe('surprisal view on 1 MB', () => {
    // Decorating every line of the 1 MB result at once (a DecorationOptions with a hover per line)
    // held the extension host 776 ms busy (limit 500). Now the bits are mapped to lines in 128 KB
    // slices, only the lines around the visible ones are decorated (again as the editor scrolls),
    // one hover provider answers for every line, and the overview ruler gets at most RULER_CAP runs.
    // Measured 2026-12-01 on the loaded 2 cores (1,002,095 bytes, 22,351 lines): mapping 22.6 ms
    // (longest slice 10.4 ms), painting lines 0-239 0.8 ms, the ruler's 428 ranges 0.4 ms; the
    // longest busy gap, 102 ms, fell while the engine scored, not while decorating.
    it('scores every byte of a 1 MB document and decorates it without the extension host stalling; the decorations follow the scroll', async function () {
      this.timeout(600_000);
      const text = megabyteOfSource();
      const editor = await openDoc(text, 'plaintext', 0);
      const doc = editor.document;
      await quietEventLoop();
      const scoring = eventLoopMonitor();
      const t0 = Date.now();
      const result = await vscode.commands.executeCommand<ScoreResult | undefined>('megabyte.toggleSurprisal');
      const gaps = scoring.stop();
      const ms = Date.now() - t0;
      assert.ok(result, 'the surprisal view scored the document');
      assert.ok(result.bytes >= 1_000_000, `scored ${result.bytes} bytes`);
      assert.equal(result.bits.length, result.bytes);

      // Only the lines at the top (where the cursor is) are decorated, not all of them.
      const last = doc.lineCount - 1;
      const top = api.surprisalPaint(editor);
      assert.ok(top, 'the editor was painted');
      assert.equal(top.windows.length, 1);
      assert.equal(top.windows[0].start, 0, 'painted from the first line');
      assert.ok(top.windows[0].end < 1_000, `painted lines 0-${top.windows[0].end} of ${last + 1}, not the whole file`);
      assert.ok(top.rulerRanges <= RULER_CAP && top.rulerRanges <= top.rulerRuns, `${top.rulerRanges} overview-ruler ranges of ${top.rulerRuns} runs`);

      // Scroll to the end: the painted lines follow, and the lines there answer a hover.
      const scrolling = eventLoopMonitor();
      const t1 = Date.now();
      editor.revealRange(new vscode.Range(last, 0, last, 0), vscode.TextEditorRevealType.InCenter);
      const end = await waitFor('the decorated lines to follow the scroll to the end', () => {
        const p = api.surprisalPaint(editor);
        return p?.windows.some((w) => w.end === last) ? p : undefined;
      }, 15_000, 20);
      const followMs = Date.now() - t1;
      const scrolled = scrolling.stop();
      assert.ok(end.windows.every((w) => w.start > top.windows[0].end), `the top is no longer painted: ${JSON.stringify(end.windows)}`);
      const { bitsPerByte, bytes } = lineScores(doc.getText(), result.bits);
      const hoverAt = async (line: number) => {
        const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(line, 0));
        return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).filter((t) => t.startsWith('MEGABYTE'));
      };
      // And back to the middle (a jump, not a scroll: the window moves there too).
      const mid = Math.floor(last / 2);
      editor.revealRange(new vscode.Range(mid, 0, mid, 0), vscode.TextEditorRevealType.InCenter);
      const middle = await waitFor('the decorated lines to follow to the middle', () => {
        const p = api.surprisalPaint(editor);
        return p?.windows.some((w) => w.start <= mid && mid <= w.end) ? p : undefined;
      }, 15_000, 20);
      assert.ok(middle.windows.every((w) => w.end < end.windows[0].start), `the end is no longer painted: ${JSON.stringify(middle.windows)}`);

      // What the overview ruler's cap saves: setDecorations with RULER_CAP one-line ranges against one range per line.
      const probe = vscode.window.createTextEditorDecorationType({ overviewRulerColor: 'red', overviewRulerLane: vscode.OverviewRulerLane.Right });
      const setMs = (n: number) => {
        const ranges = Array.from({ length: n }, (_, i) => new vscode.Range(Math.floor((i * last) / n), 0, Math.floor((i * last) / n), 0));
        const s0 = performance.now();
        editor.setDecorations(probe, ranges);
        return performance.now() - s0;
      };
      const capMs = setMs(RULER_CAP);
      const everyLineMs = setMs(last + 1);
      probe.dispose();

      let shaded = last;
      while (shaded > 0 && !(bitsPerByte[shaded] >= SURPRISAL_LEVELS[0])) shaded--;
      assert.deepEqual(await hoverAt(shaded), [`MEGABYTE: **${bitsPerByte[shaded].toFixed(2)}** bits/byte over ${bytes[shaded]} bytes`], `the hover of line ${shaded}`);
      let plain = last;
      while (plain > 0 && bitsPerByte[plain] >= SURPRISAL_LEVELS[0]) plain--;
      assert.deepEqual(await hoverAt(plain), [], `line ${plain} is not shaded and has no hover`);

      report(
        `surprisal 1 MB: ${result.bytes} bytes, ${last + 1} lines at ${result.bitsPerByte.toFixed(2)} bits/byte, engine ${result.seconds.toFixed(1)} s, command ${ms} ms; ` +
          `longest event-loop gap ${fmt(gaps)}; lines mapped in ${top.mapMs.toFixed(1)} ms (longest slice ${top.mapSliceMs.toFixed(1)} ms); ` +
          `painted lines ${top.windows[0].start}-${top.windows[0].end} (${top.ranges} ranges) in ${top.paintMs.toFixed(1)} ms; ` +
          `overview ruler ${top.rulerRanges} ranges of ${top.rulerRuns} runs set in ${top.rulerMs.toFixed(1)} ms; ` +
          `scrolled to the end: painted ${end.windows.map((w) => `${w.start}-${w.end}`).join(', ')} (${end.ranges} ranges, ${end.paintMs.toFixed(1)} ms) after ${followMs} ms, longest gap ${fmt(scrolled)}; ` +
          `to the middle: painted ${middle.windows.map((w) => `${w.start}-${w.end}`).join(', ')} (${middle.ranges} ranges, ${middle.paintMs.toFixed(1)} ms); ` +
          `setDecorations of ${RULER_CAP} ruler ranges ${capMs.toFixed(1)} ms, of ${last + 1} (every line) ${everyLineMs.toFixed(1)} ms`,
      );
      assert.ok(gaps.busyInMaxGapMs < MAX_TYPING_BUSY_MS, `the extension host was busy ${fmt(gaps)} while scoring and decorating 1 MB (limit ${MAX_TYPING_BUSY_MS} ms)`);
      assert.ok(scrolled.busyInMaxGapMs < MAX_TYPING_BUSY_MS, `the extension host was busy ${fmt(scrolled)} repainting after the scroll (limit ${MAX_TYPING_BUSY_MS} ms)`);
      assert.equal(await vscode.commands.executeCommand('megabyte.toggleSurprisal'), undefined, 'toggling again clears the view');
      assert.equal(api.surprisalPaint(editor), undefined, 'nothing painted after clearing');
      assert.deepEqual(await hoverAt(shaded), [], 'no hover after clearing');
    });
  });
});
