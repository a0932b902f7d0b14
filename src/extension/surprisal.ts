// The surprisal view: the model scores every byte of the document and each line is shaded by its
// mean bits per byte, so the lines the model found unusual (typos, odd code, secrets) stand out.
// Scores belong to one version of one document under one model: an edit or a model switch clears them.
// A document can have 30,000 lines: the bits are mapped to lines in slices (the event loop gets a
// turn between them) and kept per line in typed arrays; only the lines around what an editor
// shows are decorated (again when it scrolls near the edge of them), one hover provider reads the
// line under the mouse, and the overview ruler gets the most surprising runs of the whole file, capped.

import * as vscode from 'vscode';
import type { Engine, ScoreResult } from '../engine/api';
import { isSuperseded } from '../engine/api';
import { levelRuns, lineScoresInSlices, mostSurprising, paintWindows, windowsCover, type LineScores, type LineSpan } from './bytes';
import { epLabel } from './continuationHtml';
import type { DocumentSync } from './documents';

/** Lower bounds (bits per byte) of the shaded levels; lines below the first are left plain. */
export const SURPRISAL_LEVELS = [1.5, 3, 4.5, 6] as const;

export function surprisalLevel(bitsPerByte: number): number {
  let level = -1;
  for (let i = 0; i < SURPRISAL_LEVELS.length; i++) if (bitsPerByte >= SURPRISAL_LEVELS[i]) level = i;
  return level;
}

/** Lines decorated above and below the visible ones. */
const PAINT_MARGIN_LINES = 200;
/** Repaint once the visible lines come this close to the edge of the painted ones. */
const PAINT_SLACK_LINES = 100;
/** Bytes mapped to lines between two turns of the event loop. */
const MAP_SLICE_BYTES = 1 << 17;
/** Levels from this one up are marked in the overview ruler too. */
const RULER_MIN_LEVEL = 2;
/** At most this many overview-ruler ranges per editor (the most surprising runs): setDecorations stays cheap. */
export const RULER_CAP = 2_000;

interface Scored {
  version: number;
  lines: LineScores;
  /** Overview-ruler ranges of the whole file, per level from RULER_MIN_LEVEL up. */
  ruler: vscode.Range[][];
  /** Runs of lines at those levels before the cap. */
  rulerRuns: number;
  /** Mapping the bits to lines and the ruler runs, in ms of this thread's time, and the longest slice of it. */
  mapMs: number;
  mapSliceMs: number;
}

/** What one editor was last painted with (see SurprisalView.painted). */
export interface SurprisalPaint {
  /** The decorated lines: the visible ones and PAINT_MARGIN_LINES around them. */
  windows: LineSpan[];
  /** Background ranges (runs of lines at one level) set in the last paint, and the ms it took to build and set them. */
  ranges: number;
  paintMs: number;
  /** Overview-ruler ranges set for the whole file (at most RULER_CAP), of how many runs, and the ms setting them took. */
  rulerRanges: number;
  rulerRuns: number;
  rulerMs: number;
  /** Mapping the document's bits to lines and ruler runs, in ms in all and in its longest slice. */
  mapMs: number;
  mapSliceMs: number;
}

export interface SurprisalDeps {
  engine: Pick<Engine, 'score'>;
  documents: Pick<DocumentSync, 'ensure'>;
  log: vscode.LogOutputChannel;
  /** Registers cleanup for the current model session: a model switch makes the scores stale. */
  pushModelCleanup(d: vscode.Disposable): void;
  onSettled(): void;
}

const spanOf = (r: vscode.Range): LineSpan => ({ start: r.start.line, end: r.end.line });

export class SurprisalView implements vscode.Disposable {
  /** Whole-line backgrounds, one per level. */
  private readonly types: vscode.TextEditorDecorationType[];
  /** Overview-ruler marks only, one per level from RULER_MIN_LEVEL up. */
  private readonly rulerTypes: vscode.TextEditorDecorationType[];
  private readonly scored = new Map<string, Scored>();
  /** What each editor was painted with; an editor that is hidden and shown again is a new object. */
  private readonly paints = new WeakMap<vscode.TextEditor, SurprisalPaint>();
  /** In-flight scoring per document; toggling again cancels it. */
  private readonly running = new Map<string, AbortController>();
  private readonly subscriptions: vscode.Disposable[];
  /** Registered while some document has scores. */
  private hover: vscode.Disposable | undefined;
  private hooked = false;

  constructor(private readonly deps: SurprisalDeps) {
    // Colors are contributed in package.json (megabyte.surprisal1..4) so themes can restyle them.
    this.types = SURPRISAL_LEVELS.map((_, i) =>
      vscode.window.createTextEditorDecorationType({ isWholeLine: true, backgroundColor: new vscode.ThemeColor(`megabyte.surprisal${i + 1}`) }),
    );
    this.rulerTypes = SURPRISAL_LEVELS.slice(RULER_MIN_LEVEL).map((_, i) =>
      vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        overviewRulerColor: new vscode.ThemeColor(`megabyte.surprisal${RULER_MIN_LEVEL + i + 1}`),
        overviewRulerLane: vscode.OverviewRulerLane.Right,
      }),
    );
    this.subscriptions = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) this.clear(e.document.uri.toString());
      }),
      vscode.workspace.onDidCloseTextDocument((doc) => this.clear(doc.uri.toString())),
      // Decorations live on editors, not documents: paint editors that come into view, and the
      // lines that come into view as an editor scrolls.
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.paint(e))),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => this.paint(e.textEditor)),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateContext()),
    ];
  }

  /** Scores the active document, or clears (or cancels) its view if it has one. */
  async toggle(): Promise<ScoreResult | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) return undefined;
    const uri = editor.document.uri.toString();
    if (this.scored.has(uri) || this.running.has(uri)) {
      this.clear(uri);
      return undefined;
    }
    return this.score(editor.document);
  }

  private async score(document: vscode.TextDocument): Promise<ScoreResult | undefined> {
    const { engine, log } = this.deps;
    const uri = document.uri.toString();
    const version = document.version;
    if (!this.deps.documents.ensure(document)) {
      void vscode.window.showWarningMessage('MEGABYTE: this document is too large to score.');
      return undefined;
    }
    const abort = new AbortController();
    this.running.set(uri, abort);
    this.hookModelSession();
    this.updateContext();
    try {
      // A window progress has no cancel button: running the toggle again cancels (see toggle()).
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'MEGABYTE scoring' },
        (progress) => engine.score({ uri, version }, abort.signal, (f) => progress.report({ message: `${Math.round(f * 100)}%` })),
      );
      if (abort.signal.aborted || document.version !== version) return undefined;
      if (!(await this.show(document, version, result, abort.signal))) return undefined;
      log.info(
        `score ${uri} v${version}: ${result.bytes} bytes, ${result.bitsPerByte.toFixed(3)} bits/byte ` +
          `in ${result.seconds.toFixed(2)} s on ${result.ep}`,
      );
      vscode.window.setStatusBarMessage(
        `MEGABYTE: ${result.bitsPerByte.toFixed(2)} bits/byte over ${result.bytes} bytes (${epLabel(result.ep)}, ${result.seconds.toFixed(1)} s)`,
        8000,
      );
      return result;
    } catch (err) {
      if (abort.signal.aborted || isSuperseded(err)) return undefined;
      const message = err instanceof Error ? err.message : String(err);
      log.error(`score ${uri} v${version} failed: ${message}`);
      void vscode.window.showErrorMessage(`MEGABYTE: scoring failed: ${message}`, 'Show log').then((a) => a && log.show());
      return undefined;
    } finally {
      if (this.running.get(uri) === abort) this.running.delete(uri);
      this.updateContext();
      this.deps.onSettled();
    }
  }

  /**
   * Maps the bits to lines, in slices with a turn of the event loop between them, then paints the
   * visible editors. False if the view was cancelled or the document changed meanwhile.
   */
  private async show(document: vscode.TextDocument, version: number, result: ScoreResult, signal: AbortSignal): Promise<boolean> {
    let busyMs = 0;
    let longestMs = 0;
    let t0 = performance.now();
    // The engine's bits are per UTF-8 byte; lineScores walks the text once to map them to lines.
    const steps = lineScoresInSlices(document.getText(), result.bits, MAP_SLICE_BYTES);
    let step = steps.next();
    while (!step.done) {
      const ms = performance.now() - t0;
      busyMs += ms;
      longestMs = Math.max(longestMs, ms);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (signal.aborted || document.version !== version) return false;
      t0 = performance.now();
      step = steps.next();
    }
    const lines = step.value;
    const runs = levelRuns(lines.bitsPerByte, surprisalLevel, 0, lines.bitsPerByte.length - 1, RULER_MIN_LEVEL);
    const ruler: vscode.Range[][] = this.rulerTypes.map(() => []);
    for (const run of mostSurprising(runs, RULER_CAP)) ruler[run.level - RULER_MIN_LEVEL].push(new vscode.Range(run.start, 0, run.end, 0));
    const last = performance.now() - t0;
    const uri = document.uri.toString();
    const scored: Scored = { version, lines, ruler, rulerRuns: runs.length, mapMs: busyMs + last, mapSliceMs: Math.max(longestMs, last) };
    this.scored.set(uri, scored);
    this.hover ??= vscode.languages.registerHoverProvider({ scheme: '*' }, { provideHover: (doc, pos) => this.provideHover(doc, pos) });
    for (const editor of vscode.window.visibleTextEditors) this.paint(editor);
    this.deps.log.debug(
      `surprisal ${uri}: ${lines.bitsPerByte.length} lines mapped in ${scored.mapMs.toFixed(1)} ms (longest slice ${scored.mapSliceMs.toFixed(1)} ms); ` +
        `overview ruler ${ruler.reduce((n, r) => n + r.length, 0)} of ${runs.length} runs`,
    );
    this.updateContext();
    return true;
  }

  /**
   * Decorates the lines around what `editor` shows, unless what it shows is still well inside
   * what was painted last. The overview ruler covers the whole file and is set once per editor.
   */
  private paint(editor: vscode.TextEditor): void {
    const scored = this.scored.get(editor.document.uri.toString());
    if (!scored || scored.version !== editor.document.version) return;
    const { bitsPerByte } = scored.lines;
    const last = this.paints.get(editor);
    let visible = editor.visibleRanges.map(spanOf);
    if (visible.length === 0) visible = [spanOf(editor.selection)]; // not laid out yet; its visible ranges follow
    if (last && windowsCover(last.windows, visible, bitsPerByte.length, PAINT_SLACK_LINES)) return;

    const t0 = performance.now();
    const windows = paintWindows(visible, bitsPerByte.length, PAINT_MARGIN_LINES);
    const ranges: vscode.Range[][] = this.types.map(() => []);
    for (const w of windows) {
      for (const run of levelRuns(bitsPerByte, surprisalLevel, w.start, w.end)) ranges[run.level].push(new vscode.Range(run.start, 0, run.end, 0));
    }
    // Plain ranges (no hover message) take setDecorations' fast path: packed numbers, not objects.
    this.types.forEach((type, i) => editor.setDecorations(type, ranges[i]));
    const t1 = performance.now();
    if (!last) this.rulerTypes.forEach((type, i) => editor.setDecorations(type, scored.ruler[i]));
    this.paints.set(editor, {
      windows,
      ranges: ranges.reduce((n, r) => n + r.length, 0),
      paintMs: t1 - t0,
      rulerRanges: scored.ruler.reduce((n, r) => n + r.length, 0),
      rulerRuns: scored.rulerRuns,
      rulerMs: last ? last.rulerMs : performance.now() - t1,
      mapMs: scored.mapMs,
      mapSliceMs: scored.mapSliceMs,
    });
  }

  private provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const scored = this.scored.get(document.uri.toString());
    if (!scored || scored.version !== document.version || position.line >= scored.lines.bitsPerByte.length) return undefined;
    const bitsPerByte = scored.lines.bitsPerByte[position.line];
    if (surprisalLevel(bitsPerByte) < 0) return undefined; // plain lines (and empty ones: NaN) have no hover
    return new vscode.Hover(
      new vscode.MarkdownString(`MEGABYTE: **${bitsPerByte.toFixed(2)}** bits/byte over ${scored.lines.bytes[position.line]} bytes`),
      document.lineAt(position.line).range,
    );
  }

  /** For the extension tests: how `editor` was last painted, if its document has scores. */
  painted(editor: vscode.TextEditor): SurprisalPaint | undefined {
    const scored = this.scored.get(editor.document.uri.toString());
    if (!scored || scored.version !== editor.document.version) return undefined;
    const paint = this.paints.get(editor);
    return paint && { ...paint, windows: paint.windows.map((w) => ({ ...w })) };
  }

  /**
   * Scores belong to the model that computed them: the model session's cleanup clears them all and
   * cancels scoring in flight (its result would be labelled with the wrong model). Hooked once per session.
   */
  private hookModelSession(): void {
    if (this.hooked) return;
    this.hooked = true;
    this.deps.pushModelCleanup({
      dispose: () => {
        this.hooked = false;
        for (const uri of [...this.running.keys(), ...this.scored.keys()]) this.clear(uri);
      },
    });
  }

  /** Clears the view of one document and cancels its scoring. */
  clear(uri: string): void {
    this.running.get(uri)?.abort();
    this.running.delete(uri);
    if (!this.scored.delete(uri)) return;
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() !== uri) continue;
      for (const type of [...this.types, ...this.rulerTypes]) editor.setDecorations(type, []);
      this.paints.delete(editor);
    }
    if (this.scored.size === 0) {
      this.hover?.dispose();
      this.hover = undefined;
    }
    this.updateContext();
  }

  private updateContext(): void {
    const uri = vscode.window.activeTextEditor?.document.uri.toString();
    const on = uri !== undefined && (this.scored.has(uri) || this.running.has(uri));
    void vscode.commands.executeCommand('setContext', 'megabyte.surprisalOn', on);
  }

  dispose(): void {
    for (const abort of this.running.values()) abort.abort();
    this.running.clear();
    this.scored.clear();
    for (const s of this.subscriptions) s.dispose();
    this.hover?.dispose();
    this.hover = undefined;
    for (const type of [...this.types, ...this.rulerTypes]) type.dispose(); // disposing a type removes its decorations
  }
}
