// Shared helpers of the command-line tools: a table of the flags each tool knows, the bundled
// default model, the JSON last line. A tool lists its flags once (name, whether it takes a
// value, a line of help); parseArgs rejects anything else, so a typo is an error that lists the
// known flags instead of a value swallowed or a default silently used.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const DEFAULT_MODEL = 'mb-small';

export function repoRoot(): string {
  let d = __dirname;
  while (!existsSync(path.join(d, 'package.json')) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

export function defaultModelDir(): string {
  return path.join(repoRoot(), 'models', DEFAULT_MODEL);
}

/** One flag: `value` names what it takes (`--model DIR`); without it the flag is a bare switch. */
export interface FlagSpec {
  value?: string;
  help: string;
}

/** The flags a tool knows, by name without the leading `--`. */
export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** Flags several tools share. */
export const COMMON_FLAGS = {
  model: { value: 'DIR', help: `model directory (default models/${DEFAULT_MODEL})` },
  threads: { value: 'N', help: 'CPU threads, 0: onnxruntime decides' },
} as const satisfies FlagTable;

/** A command line that does not fit the tool's flag table. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Parsed {
  flags: Map<string, string | true>;
  positional: string[];
}

/** `--name value`, `--name=value` and bare `--switch`, each as the table says; `--` ends the flags. */
export function parseArgs(argv: readonly string[], table: FlagTable): Parsed {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq > 0 ? eq : undefined);
    const spec = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!spec) throw new UsageError(`unknown flag --${name}; known flags: ${knownFlags(table)}`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    if (spec.value === undefined) {
      if (eq > 0) throw new UsageError(`--${name} is a switch and takes no value`);
      flags.set(name, true);
    } else if (eq > 0) {
      flags.set(name, a.slice(eq + 1));
    } else {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value (${spec.value})`);
      flags.set(name, v);
      i++;
    }
  }
  return { flags, positional };
}

/** `--model DIR, --per-file, ...`: what the error for an unknown flag lists. */
export function knownFlags(table: FlagTable): string {
  return Object.entries(table).map(([name, s]) => (s.value ? `--${name} ${s.value}` : `--${name}`)).join(', ');
}

/** One line per flag, for a usage message. */
export function flagHelp(table: FlagTable): string {
  const rows = Object.entries(table).map(([name, s]) => [s.value ? `--${name} ${s.value}` : `--${name}`, s.help]);
  const w = Math.max(0, ...rows.map(([f]) => f.length));
  return rows.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`).join('\n');
}

/** For a tool that takes no positional arguments: a stray word is an error, not ignored. */
export function noPositional(p: Parsed, table: FlagTable): void {
  if (p.positional.length) throw new UsageError(`unexpected argument ${p.positional[0]}; known flags: ${knownFlags(table)}`);
}

export function stringFlag(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function intFlag(p: Parsed, name: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = p.flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === true || v.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  return n;
}

export function numberFlag(p: Parsed, name: string, dflt: number, min = -Infinity, max = Infinity): number {
  const v = p.flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === true || v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number in ${min}..${max}, got ${String(v)}`);
  return n;
}

export function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.stdout.write(JSON.stringify({ error: message }) + '\n');
  process.exit(2);
}
