// Plots without native dependencies: an SVG string written here, turned into a PNG by headless
// Chromium when it is installed (the SVG is kept instead when it is not).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const W = 720;
const H = 420;
const M = { left: 78, right: 24, top: 48, bottom: 64 };
const COLORS = ['#6a4cff', '#e8730c', '#2a9d8f', '#8d99ae', '#c1121f'];
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

export interface Series {
  name: string;
  points: { x: number; y: number; hollow?: boolean }[];
  /** Draw the segments into hollow (extrapolated) points dashed. */
  dashHollow?: boolean;
}

export interface Chart {
  file: string;
  svg: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function text(x: number, y: number, s: string, extra = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} font-size="12" fill="#222" ${extra}>${esc(s)}</text>`;
}

function frame(title: string, xLabel: string, yLabel: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">` +
    `<rect width="${W}" height="${H}" fill="#fff"/>` +
    text(W / 2, 24, title, 'text-anchor="middle" font-size="15" font-weight="bold"') +
    text(W / 2, H - 14, xLabel, 'text-anchor="middle"') +
    text(18, (M.top + H - M.bottom) / 2, yLabel, `text-anchor="middle" transform="rotate(-90 18 ${(M.top + H - M.bottom) / 2})"`) +
    body + '</svg>';
}

function legend(names: string[], right = false): string {
  return names.map((n, i) => {
    const x = right ? W - M.right - 12 - 7 * Math.max(...names.map((m) => m.length)) - 18 : M.left + 12;
    const y = M.top + 14 + i * 18;
    return `<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>` + text(x + 18, y + 1, n);
  }).join('');
}

const log10 = Math.log10;

function fmt(v: number, unit = ''): string {
  if (unit === 'B') return v >= 1 << 20 ? `${v / (1 << 20)} MB` : v >= 1024 ? `${v / 1024} KB` : `${v} B`;
  if (v >= 1000) return `${Math.round(v).toLocaleString('en-US')}`;
  if (v >= 10) return `${Math.round(v)}`;
  return `${Number(v.toPrecision(3))}`;
}

/** A log-log line chart (x in bytes). */
export function logLogChart(file: string, title: string, xLabel: string, yLabel: string, series: Series[]): Chart {
  const pts = series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  const x0 = Math.floor(log10(Math.min(...pts.map((p) => p.x))));
  const x1 = Math.ceil(log10(Math.max(...pts.map((p) => p.x))));
  const y0 = Math.floor(log10(Math.min(...pts.map((p) => p.y))));
  const y1 = Math.max(y0 + 1, Math.ceil(log10(Math.max(...pts.map((p) => p.y)))));
  const px = (x: number) => M.left + ((log10(x) - x0) / Math.max(1e-9, x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((log10(y) - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  let body = '';
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e);
    body += `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>` + text(M.left - 8, y + 4, fmt(10 ** e), 'text-anchor="end"');
  }
  // x ticks at the measured lengths (powers of two read better than powers of ten here)
  const xs = [...new Set(pts.map((p) => p.x))].sort((a, b) => a - b);
  for (const x of xs) {
    body += `<line x1="${px(x)}" x2="${px(x)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>` + text(px(x), H - M.bottom + 18, fmt(x, 'B'), 'text-anchor="middle"');
  }
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const p = s.points.filter((q) => q.x > 0 && q.y > 0).sort((a, b) => a.x - b.x);
    for (let k = 1; k < p.length; k++) {
      const dash = s.dashHollow && (p[k].hollow || p[k - 1].hollow) ? ' stroke-dasharray="6 5"' : '';
      body += `<line x1="${px(p[k - 1].x)}" y1="${py(p[k - 1].y)}" x2="${px(p[k].x)}" y2="${py(p[k].y)}" stroke="${c}" stroke-width="2.5"${dash}/>`;
    }
    for (const q of p) body += `<circle cx="${px(q.x)}" cy="${py(q.y)}" r="4.5" fill="${q.hollow ? '#fff' : c}" stroke="${c}" stroke-width="2"/>`;
  });
  const hollow = series.some((s) => s.points.some((p) => p.hollow));
  body += legend(series.map((s) => s.name));
  if (hollow) body += text(W - M.right, M.top - 8, 'hollow, dashed: extrapolated (quadratic trend)', 'text-anchor="end" font-size="11" fill="#555"');
  return { file, svg: frame(title, xLabel, yLabel, body) };
}

/** Grouped bars: one group per label, one bar per series (null: not measured). */
export function barChart(file: string, title: string, yLabel: string, groups: string[], series: { name: string; values: (number | null)[] }[], note = ''): Chart {
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const top = niceCeil(Math.max(1e-9, ...all) * 1.12);
  const py = (v: number) => H - M.bottom - (v / top) * (H - M.top - M.bottom);
  let body = '';
  for (let k = 0; k <= 5; k++) {
    const v = (top * k) / 5;
    body += `<line x1="${M.left}" x2="${W - M.right}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>` + text(M.left - 8, py(v) + 4, fmt(v), 'text-anchor="end"');
  }
  const gw = (W - M.left - M.right) / groups.length;
  const bw = Math.min(56, (gw * 0.8) / series.length);
  groups.forEach((g, gi) => {
    const gx = M.left + gi * gw + (gw - bw * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[gi];
      const x = gx + si * bw;
      if (v === null || !Number.isFinite(v)) {
        body += text(x + bw / 2, H - M.bottom - 6, 'n/a', 'text-anchor="middle" font-size="10" fill="#888"');
        return;
      }
      body += `<rect x="${x + 1}" y="${py(v)}" width="${bw - 2}" height="${H - M.bottom - py(v)}" fill="${COLORS[si % COLORS.length]}"/>`;
      body += text(x + bw / 2, py(v) - 4, fmt(v), 'text-anchor="middle" font-size="10"');
    });
    body += text(M.left + gi * gw + gw / 2, H - M.bottom + 18, g, 'text-anchor="middle"');
  });
  body += `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#444"/>`;
  body += legend(series.map((s) => s.name).filter(() => series.length > 1));
  if (note) body += text(W - M.right, M.top - 8, note, 'text-anchor="end" font-size="11" fill="#555"');
  return { file, svg: frame(title, '', yLabel, body) };
}

function niceCeil(v: number): number {
  const e = 10 ** Math.floor(log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/**
 * Writes each chart as `<file>.png` (headless Chromium screenshots, run together), or as
 * `<file>.svg` where Chromium is missing or fails. Returns the paths written.
 */
export async function writeCharts(charts: Chart[]): Promise<string[]> {
  const exe = CHROMIUM.find((p) => existsSync(p));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-plot-'));
  try {
    return await Promise.all(charts.map(async (c, i) => {
      if (exe) {
        const html = path.join(tmp, `${i}.html`);
        writeFileSync(html, `<!doctype html><html><body style="margin:0;background:#fff">${c.svg}</body></html>`);
        const png = `${c.file}.png`;
        rmSync(png, { force: true });
        const ok = await screenshot(exe, html, png, path.join(tmp, `profile-${i}`));
        if (ok) return png;
      }
      writeFileSync(`${c.file}.svg`, c.svg);
      return `${c.file}.svg`;
    }));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function screenshot(exe: string, html: string, png: string, profile: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(exe, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${profile}`,
      `--window-size=${W},${H}`, `--screenshot=${png}`, `file://${html}`], { stdio: 'ignore' });
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', () => { clearTimeout(timer); resolve(false); });
    p.on('exit', (code) => { clearTimeout(timer); resolve(code === 0 && existsSync(png)); });
  });
}

/**
 * A linear line chart; both axes from 0 to 1 (shares, probabilities) unless `range` gives them
 * (then the legend goes top right, clear of a curve falling from the top left).
 */
export function lineChart(file: string, title: string, xLabel: string, yLabel: string, series: Series[], range?: { x: [number, number]; y: [number, number] }): Chart {
  const [x0, x1] = range?.x ?? [0, 1];
  const [y0, y1] = range?.y ?? [0, 1];
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  let body = '';
  for (let k = 0; k <= 10; k += 2) {
    const vy = y0 + (k / 10) * (y1 - y0);
    const vx = x0 + (k / 10) * (x1 - x0);
    body += `<line x1="${M.left}" x2="${W - M.right}" y1="${py(vy)}" y2="${py(vy)}" stroke="#ddd"/>` + text(M.left - 8, py(vy) + 4, fmt(vy), 'text-anchor="end"');
    body += `<line x1="${px(vx)}" x2="${px(vx)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>` + text(px(vx), H - M.bottom + 18, fmt(vx), 'text-anchor="middle"');
  }
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    const p = [...s.points].sort((a, b) => a.x - b.x);
    for (let k = 1; k < p.length; k++) body += `<line x1="${px(p[k - 1].x)}" y1="${py(p[k - 1].y)}" x2="${px(p[k].x)}" y2="${py(p[k].y)}" stroke="${c}" stroke-width="2.5"/>`;
    for (const q of p) body += `<circle cx="${px(q.x)}" cy="${py(q.y)}" r="4.5" fill="${c}"/>`;
  });
  body += legend(series.map((s) => s.name), range !== undefined);
  return { file, svg: frame(title, xLabel, yLabel, body) };
}
