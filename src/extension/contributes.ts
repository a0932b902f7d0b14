// What package.json `contributes` declares, written once for the code: the command ids and
// titles (commands.ts registers exactly these) and every setting's type, default and bounds
// (config.ts reads and clamps by them). No `vscode` import, so the unit tests hold package.json
// to this table (test/unit/contributes.test.ts).
import { DEFAULT_INDEX_BYTES, DEFAULT_OPTIONS, DEFAULT_WORKSPACE_BYTES, EXECUTION_PROVIDERS, STOP_RULES } from '../engine/api';

/** Command ids and their titles (category "MEGABYTE" in package.json). */
export const COMMAND_TITLES = {
  'megabyte.summarizeContinuation': 'Summarize continuation',
  'megabyte.selectModel': 'Select model',
  'megabyte.toggleSurprisal': 'Toggle surprisal view',
  'megabyte.togglePause': 'Pause/resume completions',
  'megabyte.showLog': 'Show log',
  'megabyte.showContext': 'Show context',
} as const;

export type CommandId = keyof typeof COMMAND_TITLES;

export const COMMAND_CATEGORY = 'MEGABYTE';

export interface NumberSetting { type: 'integer' | 'number'; default: number; minimum: number; maximum: number }
export interface BooleanSetting { type: 'boolean'; default: boolean }
export interface StringSetting { type: 'string'; default: string; enum?: readonly string[] }
export interface ArraySetting { type: 'array'; default: readonly string[]; itemEnum?: readonly string[] }
/** A number or null; null (the default) leaves the choice to something else (the model, for minConfidence). */
export interface NullableNumberSetting { type: readonly ['number', 'null']; default: null; minimum: number; maximum: number }
export type Setting = NumberSetting | BooleanSetting | StringSetting | ArraySetting | NullableNumberSetting;

const MiB = 2 ** 20;

/** Every `megabyte.*` setting. Engine options take their defaults from the engine's DEFAULT_OPTIONS. */
export const SETTINGS = {
  'megabyte.completion.enabled': { type: 'boolean', default: true },
  'megabyte.completion.debounceMs': { type: 'integer', default: 150, minimum: 0, maximum: 5000 },
  'megabyte.completion.adaptiveDebounce': { type: 'boolean', default: true },
  'megabyte.completion.firstLineEarly': { type: 'boolean', default: true },
  'megabyte.completion.maxBytes': { type: 'integer', default: 256, minimum: 1, maximum: 8192 },
  'megabyte.completion.candidates': { type: 'integer', default: 3, minimum: 1, maximum: 8 },
  'megabyte.completion.temperature': { type: 'number', default: 0, minimum: 0, maximum: 2 },
  'megabyte.completion.stopRule': { type: 'string', default: 'block', enum: STOP_RULES },
  'megabyte.completion.timeBudgetMs': { type: 'integer', default: 2000, minimum: 50, maximum: 60_000 },
  'megabyte.completion.excludeLanguages': { type: 'array', default: [] },
  // null: the model's calibrated default (manifest.json confidence.threshold); 0 shows everything
  'megabyte.completion.minConfidence': { type: ['number', 'null'], default: null, minimum: 0, maximum: 1 },
  'megabyte.context.workspace': { type: 'boolean', default: true },
  'megabyte.context.workspaceBytes': { type: 'integer', default: DEFAULT_WORKSPACE_BYTES, minimum: 0, maximum: 500_000 },
  'megabyte.context.indexBytes': { type: 'integer', default: DEFAULT_INDEX_BYTES, minimum: 0, maximum: 32_000_000 },
  'megabyte.continuation.maxBytes': { type: 'integer', default: 2048, minimum: 1, maximum: 65_536 },
  'megabyte.models.default': { type: 'string', default: '' },
  'megabyte.models.folder': { type: 'string', default: '' },
  'megabyte.performance.executionProviders': { type: 'array', default: DEFAULT_OPTIONS.executionProviders, itemEnum: EXECUTION_PROVIDERS },
  'megabyte.performance.threads': { type: 'integer', default: DEFAULT_OPTIONS.threads, minimum: 0, maximum: 256 },
  // The default is the most the engine reads.
  'megabyte.performance.maxContextBytes': { type: 'integer', default: DEFAULT_OPTIONS.maxContextBytes, minimum: 1024, maximum: DEFAULT_OPTIONS.maxContextBytes },
  'megabyte.performance.suffixBytes': { type: 'integer', default: DEFAULT_OPTIONS.suffixBytes, minimum: 0, maximum: 65_536 },
  'megabyte.performance.matchModel': { type: 'boolean', default: DEFAULT_OPTIONS.matchModel },
  'megabyte.performance.generationMixing': { type: 'boolean', default: DEFAULT_OPTIONS.generationMixing },
  'megabyte.performance.encodeAhead': { type: 'boolean', default: true },
  'megabyte.performance.memoryBudgetMB': { type: 'integer', default: DEFAULT_OPTIONS.memoryBudgetBytes / MiB, minimum: 16, maximum: 65_536 },
} as const satisfies Record<string, Setting>;

export type SettingId = keyof typeof SETTINGS;
/** Settings whose value is a number. */
export type NumberSettingId = { [K in SettingId]: (typeof SETTINGS)[K] extends NumberSetting ? K : never }[SettingId];
/** Settings whose value is a number or null. */
export type NullableNumberSettingId = { [K in SettingId]: (typeof SETTINGS)[K] extends NullableNumberSetting ? K : never }[SettingId];
