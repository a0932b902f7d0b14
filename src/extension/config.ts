// Typed getters over the `megabyte.*` settings (package.json holds their schema, titles and
// scopes; their types, defaults and bounds come from contributes.ts, which a unit test holds
// package.json to). Values are read on use, so a change applies to the next request without a
// listener; the few that need the model reloaded are listed once in MODEL_RELOAD_SETTINGS.

import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineOptions, ExecutionProvider, StopRule, WorkspaceConfig } from '../engine/api';
import { EXECUTION_PROVIDERS, isStopRule, WORKSPACE_OFF } from '../engine/api';
import { SETTINGS, type NullableNumberSettingId, type NumberSettingId, type SettingId } from './contributes';

/**
 * A change to any of these re-resolves the model and reloads it when needed: onnxruntime fixes
 * execution providers and threads when it creates a session, and the other two choose the model.
 * Every other setting applies live (engine.configure, or read at the next request).
 */
export const MODEL_RELOAD_SETTINGS = [
  'megabyte.models.default',
  'megabyte.models.folder',
  'megabyte.performance.executionProviders',
  'megabyte.performance.threads',
] as const;

export function needsModelReload(e: vscode.ConfigurationChangeEvent): boolean {
  return MODEL_RELOAD_SETTINGS.some((s) => e.affectsConfiguration(s));
}

export interface CompletionConfig {
  enabled: boolean;
  debounceMs: number;
  /** Wait less after a pause and about half a key's gap in a burst, at most debounceMs (debounce.ts). */
  adaptiveDebounce: boolean;
  /** Show the first line of the first candidate as soon as it is complete; the rest follows. */
  firstLineEarly: boolean;
  maxBytes: number;
  candidates: number;
  /** 0 is greedy. */
  temperature: number;
  stopRule: StopRule;
  timeBudgetMs: number;
  excludeLanguages: string[];
  /**
   * Automatic suggestions show only the part whose calibrated confidence reaches this (0: all);
   * undefined: the model's calibrated default (megabyte.completion.minConfidence null).
   */
  minConfidence: number | undefined;
}

export interface ModelsConfig {
  /** A model's manifest name or directory name; '' means the first bundled model. */
  default: string;
  /** Absolute path of the user's models folder ('~' expanded); '' when unset. */
  folder: string;
}


/** Clamps a setting: package.json's minimum/maximum are advisory, settings.json can hold anything. */
export function clampSetting(id: NumberSettingId, value: unknown): number {
  const s = SETTINGS[id];
  if (typeof value !== 'number' || !Number.isFinite(value)) return s.default;
  const v = Math.min(s.maximum, Math.max(s.minimum, value));
  return s.type === 'integer' ? Math.round(v) : v;
}

/**
 * A number-or-null setting: null or unset is undefined (the default decides elsewhere), a number
 * is clamped to the bounds, anything else (a string in settings.json) is undefined too.
 */
export function clampNullableSetting(id: NullableNumberSettingId, value: unknown): number | undefined {
  const s = SETTINGS[id];
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return Math.min(s.maximum, Math.max(s.minimum, value));
}

/** The setting's key within its section (`getConfiguration('megabyte.completion').get(key)`). */
const key = (id: SettingId) => id.slice(id.lastIndexOf('.') + 1);

export class Config {
  // Only getConfiguration: the narrow interface keeps Config testable with a stub.
  constructor(private readonly workspace: Pick<typeof vscode.workspace, 'getConfiguration'> = vscode.workspace) {}

  /**
   * What of the workspace the engine may read (megabyte.context.*): the local workspace folders,
   * with files.exclude and search.exclude; nothing in an untrusted workspace (restricted mode
   * keeps each file alone) or when the setting is off.
   */
  workspaceContext(folders: readonly vscode.WorkspaceFolder[] = vscode.workspace.workspaceFolders ?? [], trusted = vscode.workspace.isTrusted): WorkspaceConfig {
    const c = this.workspace.getConfiguration('megabyte.context');
    const on = bool(c.get('workspace'), SETTINGS['megabyte.context.workspace'].default);
    const budgetBytes = clampSetting('megabyte.context.workspaceBytes', c.get(key('megabyte.context.workspaceBytes')));
    const indexBytes = clampSetting('megabyte.context.indexBytes', c.get(key('megabyte.context.indexBytes')));
    const roots = folders.filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    if (!on || !trusted || (budgetBytes === 0 && indexBytes === 0) || roots.length === 0) return WORKSPACE_OFF;
    const exclude = new Set<string>();
    for (const section of ['files.exclude', 'search.exclude']) {
      for (const f of folders.length ? folders : [undefined]) {
        const globs = this.workspace.getConfiguration(undefined, f?.uri).get<unknown>(section);
        // only plain `true` entries; a `{ "when": ... }` entry depends on sibling files
        if (globs && typeof globs === 'object') for (const [g, v] of Object.entries(globs)) if (v === true) exclude.add(g);
      }
    }
    return { enabled: true, roots, exclude: [...exclude], gitignore: true, budgetBytes, indexBytes };
  }

  /** Completion settings for a document: its language's overrides apply (`"[python]": {...}`). */
  completion(scope?: vscode.ConfigurationScope): CompletionConfig {
    const c = this.workspace.getConfiguration('megabyte.completion', scope);
    const stop = c.get<string>('stopRule');
    const exclude = c.get<unknown>('excludeLanguages');
    return {
      enabled: bool(c.get('enabled'), SETTINGS['megabyte.completion.enabled'].default),
      debounceMs: clampSetting('megabyte.completion.debounceMs', c.get(key('megabyte.completion.debounceMs'))),
      adaptiveDebounce: bool(c.get('adaptiveDebounce'), SETTINGS['megabyte.completion.adaptiveDebounce'].default),
      firstLineEarly: bool(c.get('firstLineEarly'), SETTINGS['megabyte.completion.firstLineEarly'].default),
      maxBytes: clampSetting('megabyte.completion.maxBytes', c.get(key('megabyte.completion.maxBytes'))),
      candidates: clampSetting('megabyte.completion.candidates', c.get(key('megabyte.completion.candidates'))),
      temperature: clampSetting('megabyte.completion.temperature', c.get(key('megabyte.completion.temperature'))),
      stopRule: isStopRule(stop) ? stop : SETTINGS['megabyte.completion.stopRule'].default,
      timeBudgetMs: clampSetting('megabyte.completion.timeBudgetMs', c.get(key('megabyte.completion.timeBudgetMs'))),
      excludeLanguages: Array.isArray(exclude) ? exclude.filter((l): l is string => typeof l === 'string') : [],
      minConfidence: clampNullableSetting('megabyte.completion.minConfidence', c.get(key('megabyte.completion.minConfidence'))),
    };
  }

  continuation(): { maxBytes: number } {
    const id = 'megabyte.continuation.maxBytes';
    return { maxBytes: clampSetting(id, this.workspace.getConfiguration('megabyte.continuation').get(key(id))) };
  }

  models(): ModelsConfig {
    const c = this.workspace.getConfiguration('megabyte.models');
    const name = c.get<string>('default');
    const folder = c.get<string>('folder');
    return {
      default: typeof name === 'string' ? name.trim() : '',
      folder: typeof folder === 'string' && folder.trim() !== '' ? expandHome(folder.trim()) : '',
    };
  }

  /** Whether documents are encoded ahead when their editor becomes active and after a cursor move (megabyte.performance.encodeAhead). */
  encodeAhead(): boolean {
    return bool(this.workspace.getConfiguration('megabyte.performance').get('encodeAhead'), SETTINGS['megabyte.performance.encodeAhead'].default);
  }

  engineOptions(): EngineOptions {
    const c = this.workspace.getConfiguration('megabyte.performance');
    const eps = c.get<unknown>('executionProviders');
    const chosen = Array.isArray(eps) ? [...new Set(eps.filter((e): e is ExecutionProvider => (EXECUTION_PROVIDERS as readonly unknown[]).includes(e)))] : [];
    return {
      executionProviders: chosen.length > 0 ? chosen : [...SETTINGS['megabyte.performance.executionProviders'].default],
      threads: clampSetting('megabyte.performance.threads', c.get(key('megabyte.performance.threads'))),
      maxContextBytes: clampSetting('megabyte.performance.maxContextBytes', c.get(key('megabyte.performance.maxContextBytes'))),
      suffixBytes: clampSetting('megabyte.performance.suffixBytes', c.get(key('megabyte.performance.suffixBytes'))),
      memoryBudgetBytes: clampSetting('megabyte.performance.memoryBudgetMB', c.get(key('megabyte.performance.memoryBudgetMB'))) * 2 ** 20,
      matchModel: bool(c.get('matchModel'), SETTINGS['megabyte.performance.matchModel'].default),
      generationMixing: bool(c.get('generationMixing'), SETTINGS['megabyte.performance.generationMixing'].default),
    };
  }
}

/** A boolean setting: anything but a boolean (a typo in settings.json) is its default. */
function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

function expandHome(p: string): string {
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) p = path.join(os.homedir(), p.slice(1));
  // A relative path has no sensible base for a machine-scoped setting; anchor it at home.
  return path.resolve(os.homedir(), p);
}
