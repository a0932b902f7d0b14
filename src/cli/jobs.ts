// `npm run complete -- --jobs FILE.jsonl`: one request a line, so an evaluation of hundreds of
// positions costs one model load. Each line is a JSON object: the document, the cursor, and any
// of the request's options (the command line's flags are the defaults). A bad line is an error for
// that line only, naming it; the others still run.
import { STOP_RULES, isStopRule, type StopRule } from '../engine/api';

/** A request's options, as the flags of `npm run complete` set them (and a jobs line may override them). */
export interface CompleteOptions {
  candidates: number;
  maxBytes: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: StopRule;
  timeMs: number;
  useSuffix: boolean;
  /** undefined: the model's calibrated default. */
  minConfidence: number | undefined;
}

/** The bounds the flags and the jobs' keys are checked against (one table for both). */
export const OPTION_BOUNDS = {
  candidates: [1, 16],
  maxBytes: [1, 65536],
  temperature: [0, 10],
  minConfidence: [0, 1],
} as const;

export interface Job {
  /** 1-based line of the jobs file. */
  line: number;
  file: string;
  /** Byte offset of the cursor; undefined: the end of the file. */
  offset: number | undefined;
  options: CompleteOptions;
}

/** The keys a jobs line may hold, and what each takes. */
export const JOB_KEYS = {
  file: 'path of the document (relative: to the working directory, as --file)',
  offset: 'the cursor, a byte offset (default: the end of the file)',
  candidates: `integer ${OPTION_BOUNDS.candidates.join('..')}`,
  max_bytes: `integer ${OPTION_BOUNDS.maxBytes.join('..')}`,
  stop: STOP_RULES.join('|'),
  temperature: `number ${OPTION_BOUNDS.temperature.join('..')}`,
  no_suffix: 'true: ignore the text after the cursor',
  min_confidence: `number ${OPTION_BOUNDS.minConfidence.join('..')}, or null for the model's default`,
} as const;

export class JobError extends Error {
  override name = 'JobError';
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

function integer(v: unknown, key: string, min: number, max: number, line: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new JobError(line, `${key} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function number(v: unknown, key: string, min: number, max: number, line: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new JobError(line, `${key} must be a number in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * One line of a jobs file, its options over `defaults`; undefined for a blank line (skipped).
 * Throws a JobError naming the line for anything else that is not a job.
 */
export function parseJobLine(text: string, line: number, defaults: CompleteOptions): Job | undefined {
  if (text.trim() === '') return undefined;
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw new JobError(line, `not JSON (${(e as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new JobError(line, `must be a JSON object {"file": ..., "offset": ...}, got ${text.trim().slice(0, 80)}`);
  const rec = o as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    if (!Object.hasOwn(JOB_KEYS, k)) throw new JobError(line, `unknown key ${JSON.stringify(k)}; known keys: ${Object.keys(JOB_KEYS).join(', ')}`);
  }
  if (typeof rec.file !== 'string' || rec.file === '') throw new JobError(line, 'file must be the path of the document (a non-empty string)');
  const options = { ...defaults };
  const [cMin, cMax] = OPTION_BOUNDS.candidates;
  const [bMin, bMax] = OPTION_BOUNDS.maxBytes;
  const [tMin, tMax] = OPTION_BOUNDS.temperature;
  const [mMin, mMax] = OPTION_BOUNDS.minConfidence;
  if (rec.candidates !== undefined) options.candidates = integer(rec.candidates, 'candidates', cMin, cMax, line);
  if (rec.max_bytes !== undefined) options.maxBytes = integer(rec.max_bytes, 'max_bytes', bMin, bMax, line);
  if (rec.temperature !== undefined) options.temperature = number(rec.temperature, 'temperature', tMin, tMax, line);
  if (rec.stop !== undefined) {
    if (!isStopRule(rec.stop)) throw new JobError(line, `stop must be one of ${STOP_RULES.join(', ')}, got ${JSON.stringify(rec.stop)}`);
    options.stop = rec.stop;
  }
  if (rec.no_suffix !== undefined) {
    if (typeof rec.no_suffix !== 'boolean') throw new JobError(line, `no_suffix must be true or false, got ${JSON.stringify(rec.no_suffix)}`);
    options.useSuffix = !rec.no_suffix;
  }
  if (rec.min_confidence !== undefined) options.minConfidence = rec.min_confidence === null ? undefined : number(rec.min_confidence, 'min_confidence', mMin, mMax, line);
  const offset = rec.offset === undefined ? undefined : integer(rec.offset, 'offset', 0, Number.MAX_SAFE_INTEGER, line);
  return { line, file: rec.file, offset, options };
}

/**
 * The cursor of a job in its document's bytes: the offset, checked against the document (within
 * it, not inside a UTF-8 character); the end when undefined. Throws a message naming the problem.
 */
export function checkOffset(bytes: Uint8Array, offset: number | undefined, file: string): number {
  if (offset === undefined) return bytes.length;
  if (offset > bytes.length) throw new Error(`offset ${offset} is past the end of ${file} (${bytes.length} bytes)`);
  if (offset < bytes.length && (bytes[offset] & 0xc0) === 0x80) throw new Error(`offset ${offset} is inside a UTF-8 character of ${file}`);
  return offset;
}
