// The wait between a keystroke and asking the model, adapted to the typing as VS Code's own
// providers do (shorter after a pause, longer in a burst): after a pause nobody is about to
// type over the answer, so ask at once; within a burst wait about half the typical gap between
// keys, which lets the burst's last key ask ~one gap sooner than a fixed wait while most keys
// before it are still cancelled before they reach the model. Never more than the setting, and
// counted from the key, not from VS Code's call.
// Pure: no `vscode` import.

/** A gap this long (or twice the setting, if longer) between two calls ends a burst. */
export const PAUSE_MS = 400;
/** The shortest wait within a burst. */
export const MIN_BURST_MS = 30;
/** Gaps remembered for the burst's typical pace. */
const GAPS = 4;

export class AdaptiveDebounce {
  /** The key (document change) of the last call. */
  private last: number | undefined;
  private gaps: number[] = [];

  /**
   * Milliseconds to wait before asking, for a call at `now` (ms) after the key at `keyAt` (the
   * document's last change; `now` when unknown); `maxMs` is the setting. The gaps are between
   * keys, and the wait counts from the key: VS Code calls the provider only after a delay of its
   * own (~80 ms measured, npm run bench:editor), which is already part of the wait. Several calls
   * for one key count its gap once.
   */
  next(now: number, maxMs: number, keyAt: number = now): number {
    if (keyAt !== this.last) {
      const gap = this.last === undefined ? Infinity : keyAt - this.last;
      this.last = keyAt;
      if (!(gap < Math.max(PAUSE_MS, 2 * maxMs))) this.gaps = [];
      else {
        this.gaps.push(gap);
        if (this.gaps.length > GAPS) this.gaps.shift();
      }
    }
    if (!this.gaps.length) return 0;
    const sorted = [...this.gaps].sort((a, b) => a - b);
    const typical = sorted[Math.floor(sorted.length / 2)];
    const wait = Math.min(maxMs, Math.max(Math.min(MIN_BURST_MS, maxMs), typical / 2));
    return Math.round(Math.max(0, wait - Math.max(0, now - keyAt)));
  }
}
