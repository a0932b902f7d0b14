// Small statistics for the benchmark: percentiles, and the quadratic trend that decides which
// baseline lengths are worth running and extrapolates the rest.

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** t(n) = a n + b n², a and b >= 0: a transformer's forward pass (linear layers + attention). */
export interface Trend {
  a: number;
  b: number;
  predict(n: number): number;
}

function trend(a: number, b: number): Trend {
  return { a, b, predict: (n) => a * n + b * n * n };
}

/**
 * Least-squares fit of t = a n + b n² with a, b >= 0. One point: all of it quadratic (the
 * pessimistic guess, so a budget check errs on the side of skipping).
 */
export function fitTrend(points: { n: number; t: number }[]): Trend {
  if (!points.length) return trend(0, 0);
  if (points.length === 1) return trend(0, points[0].t / points[0].n ** 2);
  let s11 = 0, s12 = 0, s22 = 0, y1 = 0, y2 = 0;
  for (const { n, t } of points) {
    s11 += n * n;
    s12 += n ** 3;
    s22 += n ** 4;
    y1 += t * n;
    y2 += t * n * n;
  }
  const det = s11 * s22 - s12 * s12;
  const a = (y1 * s22 - y2 * s12) / det;
  const b = (s11 * y2 - s12 * y1) / det;
  if (a >= 0 && b >= 0) return trend(a, b);
  // One coefficient would be negative: the best fit with only the other term.
  const onlyB = trend(0, y2 / s22);
  const onlyA = trend(y1 / s11, 0);
  const err = (f: Trend) => points.reduce((e, p) => e + (f.predict(p.n) - p.t) ** 2, 0);
  return err(onlyB) <= err(onlyA) ? onlyB : onlyA;
}

export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

/** 1 - Levenshtein distance / the longer length: 1 for equal strings, 0 for nothing in common. */
export function similarity(a: string, b: string): number {
  if (a === b) return 1;
  const n = Math.max(a.length, b.length);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return 1 - prev[b.length] / n;
}
