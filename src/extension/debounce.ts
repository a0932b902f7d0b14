// The wait between a keystroke and asking the model, adapted to the typing as VS Code's own
// providers do (shorter after a pause, longer in a burst): after a pause nobody is about to
// type over the answer, so ask at once; within a burst wait about half the typical gap between
// keys, which lets the burst's last key ask ~one gap sooner than a fixed wait while most keys
// before it are still cancelled before they reach the model. Never more than the setting.
// Pure: no `vscode` import.

/** A gap this long (or twice the setting, if longer) between two calls ends a burst. */
export const PAUSE_MS = 400;
/** The shortest wait within a burst. */
export const MIN_BURST_MS = 30;
/** Gaps remembered for the burst's typical pace. */
const GAPS = 4;

export class AdaptiveDebounce {
  private last: number | undefined;
  private gaps: number[] = [];

  /** Milliseconds to wait before asking, for a call at `now` (ms); `maxMs` is the setting. */
  next(now: number, maxMs: number): number {
    const gap = this.last === undefined ? Infinity : now - this.last;
    this.last = now;
    const pause = Math.max(PAUSE_MS, 2 * maxMs);
    if (!(gap < pause)) {
      this.gaps = [];
      return 0;
    }
    this.gaps.push(gap);
    if (this.gaps.length > GAPS) this.gaps.shift();
    const sorted = [...this.gaps].sort((a, b) => a - b);
    const typical = sorted[Math.floor(sorted.length / 2)];
    return Math.round(Math.min(maxMs, Math.max(Math.min(MIN_BURST_MS, maxMs), typical / 2)));
  }
}
