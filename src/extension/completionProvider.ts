// Inline completions (ghost text) for every file. VS Code asks on each keystroke and cancels the
// previous ask; the token is wired to an AbortController so the engine drops work nobody will
// see, and cancellation is checked after every await.

import * as vscode from 'vscode';
import type { Engine } from '../engine/api';
import { isSuperseded } from '../engine/api';
import type { Config } from './config';
import type { DocumentSync } from './documents';
import { postprocess } from './postprocess';
import { continueAlong, type ShownSuggestion } from './reuse';

/** Text after the cursor that the post-processing looks at (suffix overlap needs a line or two). */
const SUFFIX_CHARS = 1024;

export interface LastCompletion {
  uri: string;
  version: number;
  texts: string[];
}

export interface CompletionDeps {
  engine: Pick<Engine, 'complete' | 'model'>;
  config: Pick<Config, 'completion'>;
  documents: Pick<DocumentSync, 'ensure'>;
  log: vscode.LogOutputChannel;
  isPaused(): boolean;
  /** Called when a request reached the engine and finished, successfully or not. */
  onSettled(): void;
}

export class CompletionProvider implements vscode.InlineCompletionItemProvider {
  private shown: ShownSuggestion | undefined;
  private last: LastCompletion | undefined;

  constructor(private readonly deps: CompletionDeps) {}

  /** The texts last offered to VS Code, for tests. */
  lastCompletion(): LastCompletion | undefined {
    return this.last;
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

    const along = this.typedAlong(document, position, uri, offset);
    if (along) return this.offer(document, position, context, along);

    // Explicit invocations (Alt+\) skip the debounce: the user asked and is waiting.
    if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic && cfg.debounceMs > 0) {
      await delay(cfg.debounceMs, token);
      if (token.isCancellationRequested) return undefined;
    }
    if (!this.deps.documents.ensure(document)) return undefined;

    const abort = new AbortController();
    const onCancel = token.onCancellationRequested(() => abort.abort());
    try {
      const request = {
        uri,
        version: document.version,
        offset,
        candidates: cfg.candidates,
        maxBytes: cfg.maxBytes,
        temperature: cfg.temperature,
        topP: 0.95,
        stop: cfg.stopRule,
        timeBudgetMs: cfg.timeBudgetMs,
      };
      let result = await engine.complete(request, abort.signal);
      if (token.isCancellationRequested) return undefined;
      // The first request in a long document can spend its whole time budget encoding and come
      // back empty. VS Code keeps that empty answer for this position (asking again with Alt+\
      // does not call us), so ask once more now that the encoding is cached: this one generates.
      if (result.ms.encode >= cfg.timeBudgetMs && result.candidates.every((c) => c.text === '' && c.stoppedBy === 'time')) {
        log.debug(`complete ${uri} v${document.version}: the time budget went to encoding ${result.contextBytes} bytes; asking again`);
        result = await engine.complete(request, abort.signal);
        if (token.isCancellationRequested) return undefined;
      }
      log.debug(
        `complete ${uri} v${document.version} @${offset}: ${result.candidates.length} candidates, ` +
          `${result.contextBytes} context bytes, encode ${result.ms.encode.toFixed(0)} ms, ` +
          `first ${result.ms.first.toFixed(0)} ms, total ${result.ms.total.toFixed(0)} ms on ${result.ep}`,
      );
      const texts = postprocess(
        result.candidates.map((c) => c.text),
        { prefixLine: document.lineAt(position.line).text.slice(0, position.character), suffix: suffixAt(document, offset) },
      );
      if (texts.length === 0) return undefined;
      this.shown = { uri, version: document.version, offset, linePrefix: linePrefixAt(document, position), texts };
      return this.offer(document, position, context, texts);
    } catch (err) {
      // Cancelled and stale requests are the normal life of a keystroke-driven provider.
      if (token.isCancellationRequested || isSuperseded(err)) return undefined;
      log.error(`complete ${uri} v${document.version} @${offset} failed: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    } finally {
      onCancel.dispose();
      this.deps.onSettled();
    }
  }

  /** Remainders of the shown suggestion when the user has been typing along it. */
  private typedAlong(document: vscode.TextDocument, position: vscode.Position, uri: string, offset: number): string[] | undefined {
    const shown = this.shown;
    if (!shown || shown.uri !== uri || offset < shown.offset) return undefined;
    const anchor = document.positionAt(shown.offset);
    return continueAlong(shown, {
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
  ): vscode.InlineCompletionItem[] | undefined {
    // With the suggest widget open, VS Code shows only items that extend its selected entry.
    const selected = context.selectedCompletionInfo;
    if (selected) {
      const typed = document.getText(selected.range);
      const needed = selected.text.startsWith(typed) ? selected.text.slice(typed.length) : undefined;
      texts = needed === undefined ? [] : texts.filter((t) => t.startsWith(needed));
      if (texts.length === 0) return undefined;
    }
    this.last = { uri: document.uri.toString(), version: document.version, texts };
    // One item per candidate; VS Code cycles them with its next/previous inline suggestion commands.
    const at = new vscode.Range(position, position);
    return texts.map((text) => new vscode.InlineCompletionItem(text, at));
  }
}

function linePrefixAt(document: vscode.TextDocument, position: vscode.Position): string {
  return document.lineAt(position.line).text.slice(0, position.character);
}

function suffixAt(document: vscode.TextDocument, offset: number): string {
  return document.getText(new vscode.Range(document.positionAt(offset), document.positionAt(offset + SUFFIX_CHARS)));
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
