// Inline completions (ghost text) for every file. VS Code asks on each keystroke and cancels the
// previous ask; the token is wired to an AbortController so the engine drops work nobody will
// see, and cancellation is checked after every await.
//
// What is shown comes from the engine (it post-processes and calibrates): while typing, each
// candidate's `shown` text (cut to its confident part at megabyte.completion.minConfidence, ''
// when held back); on an explicit ask (Alt+\, the command) every candidate's `offered` text
// whatever its confidence, the most confident first, so cycling goes in confidence order.

import * as vscode from 'vscode';
import type { CompleteRequest, CompleteResult, Engine } from '../engine/api';
import { isSuperseded } from '../engine/api';
import type { Config } from './config';
import type { DocumentSync } from './documents';
import { AdaptiveDebounce } from './debounce';
import { continueAlong, type ShownSuggestion } from './reuse';
import { describeShown, textsOf } from './offer';
import { epochMs, trace, tracing } from './trace';

/** Offers remembered for recentCompletions() (tests). */
const OFFERS_KEPT = 16;

/** How long after fetchRest's trigger an explicit ask at its place counts as that trigger (a user's Alt+\ later is the user's). */
const RETRIGGER_MS = 1000;

interface TraceRecord {
  kind: 'complete';
  uri: string;
  version: number;
  offset: number;
  trigger: vscode.InlineCompletionTriggerKind;
  tCall: number;
  adaptiveDebounce: boolean;
  firstLineEarly: boolean;
  tDebounced?: number;
  tSynced?: number;
  engine: { tSent: number; tResult: number; ms: unknown; worker: unknown; contextBytes: number }[];
}

export interface LastCompletion {
  uri: string;
  version: number;
  texts: string[];
  /** Only the first line of the first candidate so far (firstLineEarly); the rest is coming. */
  partial: boolean;
  /** An explicit ask (every candidate's offered text), not typing (their confident parts). */
  explicit: boolean;
}

/**
 * The candidates in memory, for typing along and for an explicit ask at the same place: `texts`
 * what is on screen (the confident parts while typing, everything after an explicit ask; [] when
 * all were held back), `offered` every candidate's offered text.
 */
type Remembered = ShownSuggestion & { partial: boolean; offered: readonly string[] };

export interface CompletionDeps {
  engine: Pick<Engine, 'complete' | 'model'>;
  config: Pick<Config, 'completion'>;
  documents: Pick<DocumentSync, 'ensure' | 'changedAt'>;
  log: vscode.LogOutputChannel;
  isPaused(): boolean;
  /** Called when a request reached the engine and finished, successfully or not. */
  onSettled(): void;
  /** Each answer, for the status bar's hover (how much context it had). */
  onResult?(uri: string, result: CompleteResult): void;
}

export class CompletionProvider implements vscode.InlineCompletionItemProvider {
  private shown: Remembered | undefined;
  private last: LastCompletion | undefined;
  private readonly offers: LastCompletion[] = [];
  private readonly debounce = new AdaptiveDebounce();
  /** The request for the rest of an early first line, cancelled when a new request starts. */
  private rest: AbortController | undefined;
  /**
   * Where fetchRest asked VS Code to ask again (an explicit trigger is the only way to make it):
   * that ask is still typing, and gets the confident parts, not every candidate.
   */
  private retrigger: { uri: string; version: number; offset: number; at: number } | undefined;

  constructor(private readonly deps: CompletionDeps) {}

  /** The texts last offered to VS Code, for tests. */
  lastCompletion(): LastCompletion | undefined {
    return this.last;
  }

  /** The last offers (at most OFFERS_KEPT), oldest first, for tests. */
  recentCompletions(): LastCompletion[] {
    return [...this.offers];
  }

  /** Candidates from another model must not be served by typing along. */
  reset(): void {
    this.shown = undefined;
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const { engine, config, log } = this.deps;
    const cfg = config.completion(document);
    if (!cfg.enabled || this.deps.isPaused() || !engine.model) return undefined;
    if (cfg.excludeLanguages.includes(document.languageId) || document.uri.scheme === 'output') return undefined;

    const uri = document.uri.toString();
    const offset = document.offsetAt(position);
    // The benchmark's record of this call (trace.ts): epoch times of each phase.
    const t: TraceRecord | undefined = tracing
      ? { kind: 'complete', uri, version: document.version, offset, trigger: context.triggerKind, tCall: epochMs(), engine: [],
        adaptiveDebounce: cfg.adaptiveDebounce, firstLineEarly: cfg.firstLineEarly }
      : undefined;
    const done = (items: vscode.InlineCompletionItem[] | undefined, outcome: string) => {
      if (t) trace({ ...t, tReturn: epochMs(), outcome: token.isCancellationRequested ? 'cancelled' : outcome, items: items?.length ?? 0, text: items?.[0]?.insertText });
      return items;
    };

    const automatic = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic;
    // An explicit ask wants every candidate whatever its confidence; fetchRest's re-ask is still typing.
    const retrigger = this.retrigger;
    this.retrigger = undefined;
    const explicit = !automatic && !(retrigger && retrigger.uri === uri && retrigger.version === document.version && retrigger.offset === offset
      && Date.now() - retrigger.at < RETRIGGER_MS);
    // Every call counts for the typing's pace, also those served from memory.
    const adaptiveWait = automatic ? this.debounce.next(Date.now(), cfg.debounceMs, this.deps.documents.changedAt(uri)) : 0;
    // An explicit ask (Alt+\, or cycling) at an early first line wants every candidate: ask in full.
    const along = !automatic && this.shown?.partial ? undefined : this.typedAlong(document, position, uri, offset, explicit);
    if (along) return done(this.offer(document, position, context, along, this.shown?.partial ?? false, explicit), 'along');
    // A new request: the rest of an earlier one is not wanted any more, and must not hold the worker.
    this.rest?.abort();
    this.rest = undefined;

    // Explicit invocations (Alt+\) skip the debounce: the user asked and is waiting.
    const wait = !automatic ? 0 : cfg.adaptiveDebounce ? adaptiveWait : cfg.debounceMs;
    if (wait > 0) {
      await delay(wait, token);
      if (token.isCancellationRequested) return done(undefined, 'cancelled');
    }
    if (t) t.tDebounced = epochMs();
    if (!this.deps.documents.ensure(document)) return done(undefined, 'unsynced');
    if (t) t.tSynced = epochMs();

    const abort = new AbortController();
    const onCancel = token.onCancellationRequested(() => abort.abort());
    try {
      const request: CompleteRequest = {
        uri,
        version: document.version,
        offset,
        candidates: cfg.candidates,
        maxBytes: cfg.maxBytes,
        temperature: cfg.temperature,
        topP: 0.95,
        stop: cfg.stopRule,
        timeBudgetMs: cfg.timeBudgetMs,
        minConfidence: cfg.minConfidence,
        // a file just opened is answered from the text near the cursor while the rest encodes
        nearFirst: true,
      };
      // First line early: one candidate to the end of the line is all the ghost text needs at
      // first; the full request (every candidate, the whole block) follows and replaces it.
      // Only while typing: an explicit ask gets every candidate at once.
      const early = automatic && cfg.firstLineEarly && (cfg.candidates > 1 || cfg.stopRule !== 'line');
      const first: CompleteRequest = early ? { ...request, candidates: 1, stop: 'line' } : request;
      const ask = async (req: CompleteRequest) => {
        const sent = epochMs();
        const r = await engine.complete(req, abort.signal);
        t?.engine.push({ tSent: sent, tResult: epochMs(), ms: r.ms, worker: (r as { worker?: unknown }).worker, contextBytes: r.contextBytes });
        this.deps.onResult?.(uri, r);
        return r;
      };
      let result = await ask(first);
      if (token.isCancellationRequested) return done(undefined, 'cancelled');
      // The first request in a long document can spend its whole time budget encoding and come
      // back empty. VS Code keeps that empty answer for this position (asking again with Alt+\
      // does not call us), so ask once more now that the encoding is cached: this one generates.
      if (result.ms.encode >= cfg.timeBudgetMs && result.candidates.every((c) => c.text === '' && c.stoppedBy === 'time')) {
        log.debug(`complete ${uri} v${document.version}: the time budget went to encoding ${result.contextBytes} bytes; asking again`);
        result = await ask(first);
        if (token.isCancellationRequested) return done(undefined, 'cancelled');
      }
      this.logResult(uri, document.version, offset, result);
      const linePrefix = linePrefixAt(document, position);
      let { texts, offered } = textsOf(result, explicit);
      if (early && texts.length > 0) {
        const shown: Remembered = { uri, version: document.version, offset, linePrefix, texts, offered, partial: true };
        this.shown = shown;
        this.fetchRest(request, shown);
        return done(this.offer(document, position, context, texts, true, explicit), 'early');
      }
      if (early) {
        // Nothing (confident) on the first line: the full request may still have something.
        result = await ask(request);
        if (token.isCancellationRequested) return done(undefined, 'cancelled');
        this.logResult(uri, document.version, offset, result);
        ({ texts, offered } = textsOf(result, explicit));
      }
      // Held back: nothing on screen, but an explicit ask here is served from memory.
      this.shown = offered.length > 0 ? { uri, version: document.version, offset, linePrefix, texts, offered, partial: false } : undefined;
      if (texts.length === 0) return done(undefined, offered.length > 0 ? 'held' : 'empty');
      return done(this.offer(document, position, context, texts, false, explicit), 'model');
    } catch (err) {
      // Cancelled and stale requests are the normal life of a keystroke-driven provider.
      if (token.isCancellationRequested || isSuperseded(err)) return done(undefined, 'cancelled');
      log.error(`complete ${uri} v${document.version} @${offset} failed: ${err instanceof Error ? err.message : String(err)}`);
      return done(undefined, 'error');
    } finally {
      onCancel.dispose();
      this.deps.onSettled();
    }
  }

  /**
   * After an early first line: the full request (every candidate, to the configured stop). Its
   * candidates replace the early one in memory (typing along and cycling use them) and, when the
   * cursor has not moved since, an explicit trigger makes VS Code ask again (it does not take an
   * automatic answer for an explicit ask), which is served from memory. A new request cancels it.
   */
  private fetchRest(request: CompleteRequest, shown: Remembered): void {
    const { engine, log } = this.deps;
    const ctl = new AbortController();
    this.rest = ctl;
    const tSent = epochMs();
    engine.complete(request, ctl.signal).then((result) => {
      if (ctl.signal.aborted || this.shown !== shown) return;
      this.logResult(request.uri, request.version, request.offset, result);
      const line = shown.texts[0];
      // The line already on screen stays the first candidate's start (what is on screen, and what an explicit ask here offers first).
      const keep = (list: readonly string[]) => {
        const i = list.findIndex((x) => x.startsWith(line));
        return i < 0 ? [line, ...list] : [list[i], ...list.filter((_, j) => j !== i)];
      };
      const next = textsOf(result, false);
      const texts = keep(next.texts);
      this.shown = { ...shown, texts, offered: keep(next.offered), partial: false };
      trace({ kind: 'rest', uri: request.uri, version: request.version, offset: request.offset, tSent, tResult: epochMs(), ms: result.ms, worker: (result as { worker?: unknown }).worker, items: texts.length });
      const editor = vscode.window.activeTextEditor;
      if (editor && editor.document.uri.toString() === request.uri && editor.document.version === request.version
        && editor.document.offsetAt(editor.selection.active) === request.offset && editor.selection.isEmpty) {
        this.retrigger = { uri: request.uri, version: request.version, offset: request.offset, at: Date.now() };
        void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      }
    }, (err) => {
      if (!ctl.signal.aborted && !isSuperseded(err)) log.error(`complete ${request.uri} v${request.version} @${request.offset} (the rest) failed: ${err instanceof Error ? err.message : String(err)}`);
    }).finally(() => {
      if (this.rest === ctl) this.rest = undefined;
      this.deps.onSettled();
    });
  }

  /**
   * Remainders of the remembered suggestion when the user has been typing along it: of what is on
   * screen while typing, of every candidate on an explicit ask.
   */
  private typedAlong(document: vscode.TextDocument, position: vscode.Position, uri: string, offset: number, explicit: boolean): string[] | undefined {
    const shown = this.shown;
    if (!shown || shown.uri !== uri || offset < shown.offset) return undefined;
    const anchor = document.positionAt(shown.offset);
    return continueAlong(explicit ? { ...shown, texts: shown.offered } : shown, {
      uri,
      version: document.version,
      offset,
      anchorLinePrefix: linePrefixAt(document, anchor),
      typed: document.getText(new vscode.Range(anchor, position)),
    });
  }

  private offer(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    texts: string[],
    partial: boolean,
    explicit: boolean,
  ): vscode.InlineCompletionItem[] | undefined {
    // With the suggest widget open, VS Code shows only items that extend its selected entry.
    const selected = context.selectedCompletionInfo;
    if (selected) {
      const typed = document.getText(selected.range);
      const needed = selected.text.startsWith(typed) ? selected.text.slice(typed.length) : undefined;
      texts = needed === undefined ? [] : texts.filter((t) => t.startsWith(needed));
      if (texts.length === 0) return undefined;
    }
    this.last = { uri: document.uri.toString(), version: document.version, texts, partial, explicit };
    this.offers.push(this.last);
    if (this.offers.length > OFFERS_KEPT) this.offers.shift();
    // One item per candidate; VS Code cycles them with its next/previous inline suggestion commands.
    const at = new vscode.Range(position, position);
    return texts.map((text) => new vscode.InlineCompletionItem(text, at));
  }

  /** One debug line per engine answer: timings, and how many candidates are shown, cut and held back. */
  private logResult(uri: string, version: number, offset: number, result: CompleteResult): void {
    this.deps.log.debug(
      `complete ${uri} v${version} @${offset}: ${result.candidates.length} candidates, ${describeShown(result)}, ` +
        `${result.contextBytes} context bytes${result.window === 'near' ? ' (near window: the full context is encoding)' : ''}, ` +
        `workspace ${result.context.files} files ${result.context.bytes} bytes, encode ${result.ms.encode.toFixed(0)} ms, ` +
        `first ${result.ms.first.toFixed(0)} ms, total ${result.ms.total.toFixed(0)} ms on ${result.ep}`,
    );
  }
}

function linePrefixAt(document: vscode.TextDocument, position: vscode.Position): string {
  return document.lineAt(position.line).text.slice(0, position.character);
}

/** Resolves after `ms`, or as soon as the token is cancelled. */
function delay(ms: number, token: vscode.CancellationToken): Promise<void> {
  return new Promise((resolve) => {
    if (token.isCancellationRequested) return resolve();
    const done = () => {
      clearTimeout(timer);
      sub.dispose();
      resolve();
    };
    const timer = setTimeout(done, ms);
    const sub = token.onCancellationRequested(done);
  });
}
