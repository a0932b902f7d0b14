// Shared helpers for the extension-host tests (they run inside a real VS Code, with the real
// bundled model). The tests drive the editor the way a user does (inline-suggest commands, the
// `type` command, undo) and read back what the user would see: the document text, the status
// bar text and the tabs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExecutionProvider, ModelInfo } from '../../src/engine/api';
import type { MegabyteApi } from '../../src/extension/extension';
import { COMMAND_TITLES, type CommandId } from '../../src/extension/contributes';

export type { MegabyteApi };

export const EXTENSION_ID = 'megabyte-local.megabyte-complete';

/** Every command the extension contributes (src/extension/contributes.ts). */
export const COMMANDS = Object.keys(COMMAND_TITLES) as CommandId[];

/** How the status bar names each execution provider (src/extension/continuationHtml.ts epLabel). */
export const DEVICE_LABELS: Record<ExecutionProvider, string> = { cpu: 'CPU', cuda: 'CUDA', webgpu: 'WebGPU' };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function getExtension(): vscode.Extension<MegabyteApi> {
  const ext = vscode.extensions.getExtension<MegabyteApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not installed in this VS Code`);
  return ext;
}

export async function activate(): Promise<MegabyteApi> {
  return getExtension().activate();
}

/** The bundled model's directory (models/mb-small inside the extension under test). */
export function bundledModelDir(): string {
  return path.join(getExtension().extensionPath, 'models', 'mb-small');
}

/** Activates the extension and waits until a model serves (loading takes a few seconds on a busy CPU). */
export async function ready(timeoutMs = 90_000): Promise<MegabyteApi> {
  const api = await activate();
  await waitFor('a model to serve', () => model(api) !== undefined && !api.statusText().includes('loading'), timeoutMs);
  return api;
}

/** A suite's shared setup: the extension ready with a model before its first test, editors closed after each. */
export function useReadyExtension(onReady: (api: MegabyteApi) => void): void {
  before(async function () {
    this.timeout(120_000);
    onReady(await ready());
  });
  afterEach(async () => {
    await closeAllEditors();
  });
}

export function model(api: MegabyteApi): ModelInfo | undefined {
  return api.engine.model;
}

/** Polls until fn returns a truthy value; fails with `what` after timeoutMs. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

const EXTENSIONS: Record<string, string> = { python: '.py', javascript: '.js', typescript: '.ts', plaintext: '.txt' };
let docDir: string | undefined;
let docCount = 0;

/**
 * Opens `content` as a file of its own (a fresh name each time) and puts the cursor at `cursor`
 * (default: its end). Not an untitled document: VS Code reuses the name Untitled-1 and may fill
 * the new one from the backup of the old one, handing a test the previous test's text.
 */
export async function openDoc(content: string, language = 'python', cursor?: number): Promise<vscode.TextEditor> {
  docDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'megabyte-docs-'));
  const file = path.join(docDir, `doc-${++docCount}${EXTENSIONS[language] ?? '.txt'}`);
  fs.writeFileSync(file, content);
  let doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  if (doc.languageId !== language) doc = await vscode.languages.setTextDocumentLanguage(doc, language);
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  const at = doc.positionAt(cursor ?? doc.getText().length);
  editor.selection = new vscode.Selection(at, at);
  return editor;
}

/** Removes the files openDoc wrote (index.ts calls it when the suite ends). */
export function removeDocs(): void {
  if (docDir) fs.rmSync(docDir, { recursive: true, force: true });
  docDir = undefined;
}

/** Closes every editor and panel without save prompts (reverts untitled/dirty ones first). */
export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
  for (let i = 0; i < 50 && vscode.window.activeTextEditor; i++) {
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Sets a global (user) setting for one test; returns the function that restores it. */
export async function withSetting(section: string, key: string, value: unknown): Promise<() => Promise<void>> {
  const config = vscode.workspace.getConfiguration(section);
  const before = config.inspect(key)?.globalValue;
  await config.update(key, value, vscode.ConfigurationTarget.Global);
  return async () => {
    await vscode.workspace.getConfiguration(section).update(key, before, vscode.ConfigurationTarget.Global);
  };
}

/** The suggestion the extension last offered, if it was for this editor's document as it is now. */
export function currentSuggestion(api: MegabyteApi, editor: vscode.TextEditor): string[] | undefined {
  const last = api.lastCompletion();
  const doc = editor.document;
  // An early first line (megabyte.completion.firstLineEarly) is followed by the full candidates: wait for those.
  if (!last || last.uri !== doc.uri.toString() || last.version !== doc.version || last.texts.length === 0 || last.partial) return undefined;
  return last.texts;
}

/** How long the workbench may take to replace an early first line with the full suggestion. */
const FULL_SHOWN_MS = 500;

/**
 * Asks for an inline suggestion (editor.action.inlineSuggest.trigger, what Alt+\ does) until the
 * extension has offered candidates for the document's current version; returns them. VS Code
 * does not ask a provider again for the same text and cursor, so repeating the trigger (every
 * `retriggerMs`, never while the status bar says "encoding") only helps after a cancellation;
 * the first trigger is at once.
 */
export async function suggest(api: MegabyteApi, editor: vscode.TextEditor, timeoutMs = 60_000, retriggerMs = 2_500): Promise<string[]> {
  let lastTrigger = 0;
  let early = false;
  return waitFor(`an inline suggestion for ${editor.document.uri.toString()} v${editor.document.version}`, async () => {
    const texts = currentSuggestion(api, editor);
    if (texts) {
      // The full candidates replace an early first line on screen a moment after they are offered.
      if (early) await sleep(FULL_SHOWN_MS);
      return texts;
    }
    const last = api.lastCompletion();
    if (last?.partial && last.uri === editor.document.uri.toString() && last.version === editor.document.version) early = true;
    // the first ask goes at once (while a file encodes it is answered from the text near the cursor)
    if (lastTrigger === 0 || (Date.now() - lastTrigger > retriggerMs && !api.statusText().includes('encoding'))) {
      lastTrigger = Date.now();
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    }
    return undefined;
  }, timeoutMs, 50);
}

/**
 * Presses Tab on the shown ghost text (editor.action.inlineSuggest.commit) and returns exactly
 * what it inserted at the cursor. The suggestion reaches the renderer a moment after the
 * extension offered it, so the commit is repeated for up to `timeoutMs` until the document changes.
 */
export async function accept(editor: vscode.TextEditor, timeoutMs = 5_000): Promise<string> {
  const doc = editor.document;
  const before = doc.getText();
  const offset = doc.offsetAt(editor.selection.active);
  await waitFor('the ghost text to be accepted', async () => {
    await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
    return doc.getText() !== before;
  }, timeoutMs, 150);
  const after = doc.getText();
  const inserted = after.slice(offset, offset + after.length - before.length);
  assert.equal(after, before.slice(0, offset) + inserted + before.slice(offset), 'accepting ghost text only inserts at the cursor');
  return inserted;
}

/** What a user does: wait for ghost text, press Tab. Returns the offered texts and the inserted one. */
export async function suggestAndAccept(api: MegabyteApi, editor: vscode.TextEditor, timeoutMs = 60_000): Promise<{ texts: string[]; inserted: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const texts = await suggest(api, editor, Math.max(1_000, deadline - Date.now()));
    try {
      return { texts, inserted: await accept(editor) };
    } catch (err) {
      // Shown and hidden again (e.g. a late cancellation): ask again while there is time.
      if (Date.now() > deadline) throw err;
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    }
  }
}

/** Undoes the last edit and waits until the document reads `text` again. */
export async function undoTo(editor: vscode.TextEditor, text: string): Promise<void> {
  await vscode.commands.executeCommand('undo');
  await waitFor('undo to restore the document', () => editor.document.getText() === text, 5_000, 50);
}

/** What eventLoopMonitor saw: the longest gap between ticks, and how much of it the loop was busy. */
export interface LoopGaps {
  maxGapMs: number;
  /** Time the event loop spent running (not waiting for I/O or timers) within the longest gap. */
  busyInMaxGapMs: number;
  /** When the longest gap began, in ms after the monitor started. */
  atMs: number;
  ticks: number;
}

/**
 * Tracks the longest gap between ticks of a 10 ms interval on this thread (the extension host's
 * event loop): a long gap means the extension host stopped answering for that long. The busy
 * part (event-loop utilization) tells a task that held the loop from a thread that the OS did
 * not schedule (a machine with more runnable threads than cores).
 */
export function eventLoopMonitor(periodMs = 10): { stop(): LoopGaps } {
  const t0 = performance.now();
  let last = t0;
  let lastElu = performance.eventLoopUtilization();
  const gaps: LoopGaps = { maxGapMs: 0, busyInMaxGapMs: 0, atMs: 0, ticks: 0 };
  const tick = () => {
    const t = performance.now();
    const elu = performance.eventLoopUtilization();
    if (t - last > gaps.maxGapMs) {
      gaps.maxGapMs = t - last;
      gaps.busyInMaxGapMs = performance.eventLoopUtilization(elu, lastElu).active;
      gaps.atMs = last - t0;
    }
    last = t;
    lastElu = elu;
  };
  const timer = setInterval(() => {
    tick();
    gaps.ticks++;
  }, periodMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      return gaps;
    },
  };
}

/**
 * Waits until the extension host is quiet: a window of `windowMs` without a gap over `quietMs`
 * (built-in extensions activating after startup can hold the loop for half a second). Returns
 * the last window's figures.
 */
export async function quietEventLoop(windowMs = 1_500, quietMs = 100, timeoutMs = 30_000): Promise<LoopGaps & { waitedMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const m = eventLoopMonitor();
    await sleep(windowMs);
    const g = m.stop();
    if (g.maxGapMs < quietMs || Date.now() - t0 > timeoutMs) return { ...g, waitedMs: Date.now() - t0 };
  }
}

/** UTF-8 length, as the engine counts bytes. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Prints a figure to the extension host console and to the result file's reader (run.mjs). */
export function report(line: string): void {
  console.log(`[megabyte-tests] ${line}`);
  reportSink?.(line);
}

let reportSink: ((line: string) => void) | undefined;
export function setReportSink(sink: (line: string) => void): void {
  reportSink = sink;
}
