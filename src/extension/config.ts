// Typed getters over the `megabyte.*` settings (package.json holds their schema, titles and
// scopes). Values are read on use, so a change applies to the next request without a listener;
// the few that need the model reloaded are listed once in MODEL_RELOAD_SETTINGS.

import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineOptions, ExecutionProvider, StopRule } from '../engine/api';
import { DEFAULT_OPTIONS, EXECUTION_PROVIDERS, isStopRule } from '../engine/api';

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
  maxBytes: number;
  candidates: number;
  /** 0 is greedy. */
  temperature: number;
  stopRule: StopRule;
  timeBudgetMs: number;
  excludeLanguages: string[];
}

export interface ModelsConfig {
  /** A model's manifest name or directory name; '' means the first bundled model. */
  default: string;
  /** Absolute path of the user's models folder ('~' expanded); '' when unset. */
  folder: string;
}


/** Clamps a setting: package.json's minimum/maximum are advisory, settings.json can hold anything. */
function num(value: unknown, fallback: number, min: number, max: number, integer = true): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return fallback;
  const v = Math.min(max, Math.max(min, value));
  return integer ? Math.round(v) : v;
}

export class Config {
  // Only getConfiguration: the narrow interface keeps Config testable with a stub.
  constructor(private readonly workspace: Pick<typeof vscode.workspace, 'getConfiguration'> = vscode.workspace) {}

  /** Completion settings for a document: its language's overrides apply (`"[python]": {...}`). */
  completion(scope?: vscode.ConfigurationScope): CompletionConfig {
    const c = this.workspace.getConfiguration('megabyte.completion', scope);
    const stop = c.get<string>('stopRule');
    const exclude = c.get<unknown>('excludeLanguages');
    return {
      enabled: c.get<boolean>('enabled') !== false,
      debounceMs: num(c.get('debounceMs'), 150, 0, 5000),
      maxBytes: num(c.get('maxBytes'), 256, 1, 8192),
      candidates: num(c.get('candidates'), 3, 1, 8),
      temperature: num(c.get('temperature'), 0, 0, 2, false),
      stopRule: isStopRule(stop) ? stop : 'block',
      timeBudgetMs: num(c.get('timeBudgetMs'), 2000, 50, 60_000),
      excludeLanguages: Array.isArray(exclude) ? exclude.filter((l): l is string => typeof l === 'string') : [],
    };
  }

  continuation(): { maxBytes: number } {
    return { maxBytes: num(this.workspace.getConfiguration('megabyte.continuation').get('maxBytes'), 2048, 1, 65_536) };
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

  engineOptions(): EngineOptions {
    const c = this.workspace.getConfiguration('megabyte.performance');
    const eps = c.get<unknown>('executionProviders');
    const chosen = Array.isArray(eps) ? [...new Set(eps.filter((e): e is ExecutionProvider => (EXECUTION_PROVIDERS as readonly unknown[]).includes(e)))] : [];
    return {
      executionProviders: chosen.length > 0 ? chosen : [...DEFAULT_OPTIONS.executionProviders],
      threads: num(c.get('threads'), DEFAULT_OPTIONS.threads, 0, 256),
      maxContextBytes: num(c.get('maxContextBytes'), DEFAULT_OPTIONS.maxContextBytes, 1024, 1_000_000),
      suffixBytes: num(c.get('suffixBytes'), DEFAULT_OPTIONS.suffixBytes, 0, 65_536),
      memoryBudgetBytes: num(c.get('memoryBudgetMB'), DEFAULT_OPTIONS.memoryBudgetBytes / 2 ** 20, 16, 65_536) * 2 ** 20,
      matchModel: c.get<boolean>('matchModel') !== false,
    };
  }
}

function expandHome(p: string): string {
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) p = path.join(os.homedir(), p.slice(1));
  // A relative path has no sensible base for a machine-scoped setting; anchor it at home.
  return path.resolve(os.homedir(), p);
}
