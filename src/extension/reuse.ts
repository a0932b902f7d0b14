// Typing along a shown suggestion: while what the user typed since the suggestion appeared is a
// prefix of a candidate, the rest of that candidate is still the model's answer, so serve it from
// memory instead of asking the engine again (Continue's GeneratorReuseManager, without streaming).
// Pure: no `vscode` import.

export interface ShownSuggestion {
  uri: string;
  /** Document version the candidates were generated against. */
  version: number;
  /** UTF-16 offset of the cursor the candidates start at. */
  offset: number;
  /** Text of the cursor's line before `offset`, to notice edits before the anchor. */
  linePrefix: string;
  texts: readonly string[];
}

export interface CursorNow {
  uri: string;
  version: number;
  offset: number;
  /** Text of the anchor's line before `shown.offset`, as it reads now. */
  anchorLinePrefix: string;
  /** Text between `shown.offset` and the cursor now ('' when the cursor has not moved on). */
  typed: string;
}

/**
 * The remainders of the shown candidates that the user's typing agrees with, in their original
 * order, or `undefined` when the engine must be asked (another document, the cursor went back,
 * the text before the anchor changed, or nothing agrees).
 */
export function continueAlong(shown: ShownSuggestion | undefined, now: CursorNow): string[] | undefined {
  if (!shown || shown.uri !== now.uri || now.offset < shown.offset) return undefined;
  if (now.anchorLinePrefix !== shown.linePrefix) return undefined;
  // Same place and nothing typed: valid only if nothing changed anywhere (the suffix may have).
  if (now.typed === '' && now.version !== shown.version) return undefined;
  if (now.typed.length !== now.offset - shown.offset) return undefined;
  const rest = shown.texts.filter((t) => t.length > now.typed.length && t.startsWith(now.typed)).map((t) => t.slice(now.typed.length));
  return rest.length > 0 ? rest : undefined;
}
