// Post-processing of completion candidates: small pure filters chained in order, after Tabby's
// codeCompletion/postprocess/. Each takes one candidate and returns it changed, unchanged, or
// `undefined` to drop it. No `vscode` import: tested with `node --test`.

export interface PostprocessContext {
  /** Text of the cursor's line before the cursor. */
  prefixLine: string;
  /** Text after the cursor (a few lines are enough). */
  suffix: string;
}

export type Filter = (text: string, ctx: PostprocessContext) => string | undefined;

/**
 * A generation cut by its byte budget can end inside a multi-byte character, which the decoder
 * turns into U+FFFD. Cut it: inserting a replacement character is never what the user wants.
 */
export const cutIncompleteUtf8: Filter = (text) => text.replace(/\uFFFD+$/, '');

/**
 * Small models fall into loops that repeat the line they just wrote. A line with letters or digits
 * seen three times in a row (blank lines between don't break the run; the cursor's line, prefix
 * plus the candidate's first line, counts) cuts the candidate before its second occurrence. Two in
 * a row is left alone: real code does that, and so do closing brackets, which never count.
 */
export const cutRepeatedLines: Filter = (text, ctx) => {
  const lines = text.split('\n');
  const starts: number[] = [];
  let at = 0;
  for (const line of lines) {
    starts.push(at);
    at += line.length + 1;
  }
  const content = lines.map((line, i) => (i === 0 ? ctx.prefixLine + line : line).trim());
  const nonBlank = content.flatMap((c, i) => (c === '' ? [] : [i]));
  for (let j = 0; j + 2 < nonBlank.length; j++) {
    const [a, b, c] = [nonBlank[j], nonBlank[j + 1], nonBlank[j + 2]];
    if (content[a] === content[b] && content[b] === content[c] && /[\p{L}\p{N}]/u.test(content[a])) {
      // b >= 1, so starts[b] - 1 is the line break that precedes the second occurrence; a CR
      // before it (CRLF text) goes too, or it would be left dangling at the end.
      return text.slice(0, starts[b] - 1).replace(/\r$/, '');
    }
  }
  return text;
};

/**
 * The same loop at a finer grain than whole lines: a phrase of 3 to 40 characters (line breaks
 * included, so a short block looped counts too) with a letter or digit, repeated three or more
 * times back to back ("the set the set the set"), is kept once and the candidate cut after it.
 * Runs of one character ("=====", "    "), two-character units and units without a letter or
 * digit are left alone, and the search goes on past them: rulers, indentation and "ababab"
 * literals are real text.
 */
export const cutRepeatedPhrase: Filter = (text) => {
  for (const m of text.matchAll(/(.{3,40}?)\1{2,}/gsu)) {
    if (/[\p{L}\p{N}]/u.test(m[1]) && new Set(m[1]).size >= 2) return text.slice(0, m.index + m[1].length).replace(/[ \t]+$/, '');
  }
  return text;
};

/**
 * Trailing lines holding only whitespace show as empty ghost lines and leave stray indentation
 * when accepted; the user types their own newline. Trailing spaces on the last line with content
 * are kept ("return " is a meaningful prefix of the next token). A final lone CR (a budget cut
 * inside a CRLF) goes too: the editor would insert it as a line break.
 */
export const trimTrailingWhitespaceLines: Filter = (text) => text.replace(/(?:\r?\n[ \t]*)*\r?$/, '');

/**
 * A run of 3 or more spaces or tabs at the very end is padding the byte budget cut off (the model
 * was aligning a comment or a table), not the start of the next token: cut it. One or two
 * trailing spaces stay ("return ", "x =  ").
 */
export const cutTrailingSpaceRun: Filter = (text) => text.replace(/[ \t]{3,}$/, '');

/** Overlaps shorter than this that end mid-line may be coincidence ("a + b" before "b + c"). */
const MIN_MID_LINE_OVERLAP = 8;

/**
 * Drops text that duplicates what follows the cursor. A candidate that is itself the start of
 * the suffix adds nothing: dropped. A candidate whose tail equals the start of the suffix (the
 * model closed the bracket that is already there) is cut before that tail, when the tail covers
 * the rest of the suffix's line or is long enough not to be a coincidence.
 */
export const cutSuffixOverlap: Filter = (text, ctx) => {
  const suffix = ctx.suffix;
  if (suffix.length === 0 || text.length === 0) return text;
  if (suffix.startsWith(text)) return undefined;
  for (let k = Math.min(text.length - 1, suffix.length); k > 0; k--) {
    if (!text.endsWith(suffix.slice(0, k))) continue;
    const rest = suffix.slice(k);
    const endsLine = rest.length === 0 || /^[ \t]*(?:\r?\n|$)/.test(rest);
    if (endsLine || k >= MIN_MID_LINE_OVERLAP) return text.slice(0, text.length - k);
  }
  return text;
};

/** An empty or whitespace-only candidate would show nothing, or only move the cursor. */
export const dropBlank: Filter = (text) => (text.trim() === '' ? undefined : text);

/** The order matters: cuts first, then the check for what is left, so a cut never leaves a blank item. */
export const FILTERS: readonly Filter[] = [
  cutIncompleteUtf8,
  cutRepeatedLines,
  cutRepeatedPhrase,
  trimTrailingWhitespaceLines,
  cutSuffixOverlap,
  trimTrailingWhitespaceLines,
  cutTrailingSpaceRun,
  dropBlank,
];

/** Keeps the first of equal candidates, so the engine's ranking decides which one is shown first. */
export function dedupe(candidates: readonly string[]): string[] {
  return [...new Set(candidates)];
}

export function postprocess(candidates: readonly string[], ctx: PostprocessContext, filters: readonly Filter[] = FILTERS): string[] {
  const kept: string[] = [];
  for (const candidate of candidates) {
    let text: string | undefined = candidate;
    for (const filter of filters) {
      text = filter(text, ctx);
      if (text === undefined) break;
    }
    if (text !== undefined) kept.push(text);
  }
  return dedupe(kept);
}
