// Shared helpers of the command-line tools: flags, the bundled default model, the JSON last line.
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

export interface Parsed {
  flags: Map<string, string | true>;
  positional: string[];
}

/** `--name value`, `--name=value` and bare `--switch` (listed in `switches`). */
export function parseArgs(argv: string[], switches: string[] = []): Parsed {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
    else if (switches.includes(a.slice(2))) flags.set(a.slice(2), true);
    else {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      flags.set(a.slice(2), argv[++i]);
    }
  }
  return { flags, positional };
}

export function intFlag(p: Parsed, name: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = p.flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  return n;
}

export function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.stdout.write(JSON.stringify({ error: message }) + '\n');
  process.exit(2);
}
