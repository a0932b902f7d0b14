// The continuation page: model output never becomes markup, and the CSP lets only the nonced
// script from the extension's own media run.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { CompleteResult } from '../../src/engine/api';
import {
  buildContinuationHtml,
  confidenceLevel,
  continuationView,
  epLabel,
  escapeHtml,
  jsonForScript,
  type ContinuationPage,
  type ContinuationView,
} from '../../src/extension/continuationHtml';

const HOSTILE = [
  '<script>alert(1)</script>',
  'x = "</script><img src=x onerror=alert(2)>";',
  "const s = `${document.cookie}`; y = '${1+1}'",
  '<!-- <script> --> &amp; &lt;b&gt; \u2028\u2029 "quoted" \'single\'',
  '</SCRIPT >',
].join('\n');

function result(texts: string[]): CompleteResult {
  return {
    candidates: texts.map((text) => ({ text, bits: Array.from(Buffer.from(text, 'utf8'), (_, i) => (i % 7) * 0.9), stoppedBy: 'budget', copyLen: [], offered: text, shown: text })),
    ms: { encode: 5, first: 12.5, total: 40 },
    ep: 'cpu',
    contextBytes: 1234,
    mixing: 'context-mixing', confidence: { calibrated: false, threshold: 0 }, window: 'full', context: { files: 0, bytes: 0 },
  };
}

function page(view: ContinuationView, extra: Partial<ContinuationPage> = {}): ContinuationPage {
  return {
    cspSource: 'https://*.vscode-cdn.net',
    nonce: 'bm9uY2Utdm9uY2U+/Q==',
    scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/continuation.js',
    styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/continuation.css',
    view,
    ...extra,
  };
}

/** What the webview script reads: the data block's text, parsed as JSON. */
function dataBlock(html: string): ContinuationView {
  const m = /<script type="application\/json" id="megabyte-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the page has a data block');
  return JSON.parse(m[1]) as ContinuationView;
}

const unescapeAttr = (s: string) => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));

function cspOf(html: string): Map<string, string[]> {
  const m = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(m, 'the page has a CSP meta tag');
  const directives = new Map<string, string[]>();
  for (const d of unescapeAttr(m[1]).split(';').map((x) => x.trim()).filter(Boolean)) {
    const [name, ...values] = d.split(/\s+/);
    directives.set(name, values);
  }
  return directives;
}

test('model output with script tags, quotes and ${...} stays data: no tag of it reaches the markup', () => {
  const view = continuationView('evil.ts', 'tiny', result([HOSTILE, 'ok']), 2);
  const html = buildContinuationHtml(page(view));
  // Exactly the page's own two script elements open and close.
  assert.equal(html.match(/<script/gi)?.length, 2);
  assert.equal(html.match(/<\/script/gi)?.length, 2);
  assert.equal(html.match(/<img/gi), null);
  assert.equal(html.match(/<!--/g), null);
  assert.ok(!html.includes('\u2028') && !html.includes('\u2029'));
  // The data block round-trips to the exact text, template-literal syntax and all.
  const data = dataBlock(html);
  assert.equal(data.candidates[0].runs.map((r) => r[0]).join(''), HOSTILE);
  assert.equal(data.candidates[1].runs.map((r) => r[0]).join(''), 'ok');
  assert.deepEqual(data, JSON.parse(JSON.stringify(view)));
});

test('a hostile file name travels in the data block as well, not as markup', () => {
  const file = '"><script>alert(3)</script>.ts';
  const html = buildContinuationHtml(page(continuationView(file, '<b>model</b>', result(['x']), 1)));
  assert.equal(html.match(/<script/gi)?.length, 2);
  assert.equal(html.match(/<b>/g), null);
  assert.equal(dataBlock(html).file, file);
  assert.equal(dataBlock(html).model, '<b>model</b>');
});

test('the CSP allows no inline or eval script and no source but the webview\'s own and the nonce', () => {
  const p = page(continuationView('a.ts', 'm', result(['x']), 1));
  const csp = cspOf(buildContinuationHtml(p));
  assert.deepEqual(csp.get('default-src'), ["'none'"]);
  assert.deepEqual(csp.get('script-src'), [`'nonce-${p.nonce}'`]);
  assert.deepEqual(csp.get('style-src'), [p.cspSource]);
  assert.deepEqual([...csp.keys()].sort(), ['default-src', 'script-src', 'style-src']);
  const all = [...csp.values()].flat();
  for (const bad of ["'unsafe-inline'", "'unsafe-eval'", '*', 'http:', 'https:', 'data:', 'blob:']) assert.ok(!all.includes(bad), bad);
  assert.ok(all.every((v) => v === "'none'" || v.startsWith("'nonce-") || v === p.cspSource), all.join(' '));
});

test('the executable script carries the nonce and the only script without it is the inert JSON data block', () => {
  const p = page(continuationView('a.ts', 'm', result(['x']), 1));
  const html = buildContinuationHtml(p);
  const tags = html.match(/<script\b[^>]*>/g) ?? [];
  assert.equal(tags.length, 2);
  for (const tag of tags) {
    const inert = /\btype="application\/json"/.test(tag);
    assert.ok(inert || tag.includes(`nonce="${p.nonce}"`), tag);
    if (!inert) assert.ok(tag.includes(`src="${p.scriptUri}"`), tag);
  }
  assert.ok(html.includes(`<link rel="stylesheet" href="${p.styleUri}">`));
});

test('the nonce and URIs are escaped in attributes, so none can break out of its quotes', () => {
  const view = continuationView('a.ts', 'm', result(['x']), 1);
  const html = buildContinuationHtml(page(view, { nonce: 'n"><script>alert(4)</script>', scriptUri: 'x" onload="alert(5)', styleUri: "y'><i>" }));
  assert.equal(html.match(/<script/gi)?.length, 2);
  assert.ok(!html.includes('onload="'));
  assert.ok(!html.includes('<i>'));
});

test('escapeHtml escapes the five markup characters as numeric references', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;');
  assert.equal(escapeHtml('plain ${x} text'), 'plain ${x} text');
});

test('jsonForScript escapes <, >, & and the JS line separators, and parses back to the same value', () => {
  const value = { s: '</script><!-- & \u2028\u2029 ${x} "q"', n: [1, 2.5, null] };
  const json = jsonForScript(value);
  assert.ok(!/[<>&\u2028\u2029]/.test(json), json);
  assert.deepEqual(JSON.parse(json), value);
});

test('confidenceLevel maps bits per byte to levels 0..4 with upper bounds 0.5, 1.5, 3 and 5', () => {
  const cases: [number, number][] = [[0, 0], [0.49, 0], [0.5, 1], [1.49, 1], [1.5, 2], [2.99, 2], [3, 3], [4.99, 3], [5, 4], [40, 4]];
  for (const [bpb, level] of cases) assert.equal(confidenceLevel(bpb), level, String(bpb));
});

test('continuationView counts UTF-8 bytes, averages bits over them and reports the generation speed', () => {
  const r: CompleteResult = {
    candidates: [
      { text: 'é😀', bits: [1, 1, 2, 2, 2, 2, 99], stoppedBy: 'eom', copyLen: [], offered: 'é😀', shown: 'é😀' }, // one bit too many: ignored
      { text: 'ab', bits: [0.25], stoppedBy: 'time', copyLen: [], offered: 'ab', shown: 'ab' }, // one bit short: the second byte has none
    ],
    ms: { encode: 1, first: 7, total: 9 },
    ep: 'cuda',
    contextBytes: 50,
    mixing: 'match', confidence: { calibrated: false, threshold: 0 }, window: 'full', context: { files: 0, bytes: 0 },
  };
  const v = continuationView('f.ts', 'm', r, 2);
  assert.equal(v.device, 'CUDA');
  assert.equal(v.firstByteMs, 7);
  assert.equal(v.contextBytes, 50);
  assert.equal(v.bytesPerSecond, (6 + 2) / 2);
  assert.equal(v.candidates[0].bytes, 6);
  assert.ok(Math.abs(v.candidates[0].bitsPerByte - 10 / 6) < 1e-12);
  assert.deepEqual(v.candidates[0].runs, [['é', 1, 1], ['😀', 2, 2]]);
  assert.equal(v.candidates[1].bitsPerByte, 0.25);
  assert.deepEqual(v.candidates[1].runs, [['a', 0, 0.25], ['b', -1, -1]]);
  assert.equal(v.candidates[1].stoppedBy, 'time');
  assert.equal(continuationView('f.ts', 'm', r, 0).bytesPerSecond, 0);
});

test('epLabel names each execution provider for people', () => {
  assert.deepEqual((['cuda', 'webgpu', 'cpu'] as const).map(epLabel), ['CUDA', 'WebGPU', 'CPU']);
});
