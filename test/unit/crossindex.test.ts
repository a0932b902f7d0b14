// The workspace index of the match models (src/engine/crossindex.ts): the document copies from
// other files' text that is not in its stream, never from its own file's copy, never across a
// file's end, and no prediction ever depends on the byte it predicts or a later one.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { BUILD_CHUNK, CrossIndex } from '../../src/engine/crossindex';
import { MatchModel, MatchTrack, type MatchParams } from '../../src/engine/match';
import { BOS } from '../../src/engine/contract';

const PARAMS: MatchParams = {
  min_len: 4, table_bits: 12, verify: 64, bounds: [4, 8, 16], lambda: [0.3, 0.6, 0.9],
  anchor_bounds: [8, 16], anchor_lambda: [0.7, 0.9], anchor: { ctx: 8, head: 24, reach: 512, candidates: 256 },
};
const sym = (s: string) => [...Buffer.from(s)];
const str = (xs: number[]) => Buffer.from(xs.filter((x) => x >= 0 && x < 256)).toString();

function predictions(m: MatchModel, s: number[], ext?: ReturnType<CrossIndex['view']>) {
  const out = { pred: new Int32Array(s.length), len: new Int32Array(s.length) };
  m.release(m.scan(s, out, ext));
  return out;
}

const UTIL = 'export function crc32OfChunkedUpload(chunks: Uint8Array[]): number {\n  return 0;\n}\n';

test('a name defined only in another file is predicted from the index, and not without it', () => {
  const m = new MatchModel(PARAMS);
  const index = new CrossIndex([{ path: '/w/util.ts', text: UTIL }, { path: '/w/other.ts', text: 'const x = 1;\n' }]);
  const s = [BOS, ...sym('import { crc32OfChunkedUpload } from "./util";\nconst y = crc32Of')];
  const run = m.scan(s, undefined, index.view('/w/main.ts'));
  // the stream itself holds "crc32Of" + "Chunked..." (the import line): the stream's match wins
  assert.equal(String.fromCharCode(run.prediction.symbol), 'C');
  m.release(run);
  const t = [BOS, ...sym('const y = 2;\nexport function crc32Of')];
  const alone = predictions(m, t);
  const withIndex = predictions(m, t, index.view('/w/main.ts'));
  const r = m.scan(t, undefined, index.view('/w/main.ts'));
  assert.equal(String.fromCharCode(r.prediction.symbol), 'C', 'the index continues "export function crc32Of"');
  assert.ok(r.length >= 8);
  const copy: number[] = [];
  for (let k = 0; k < 'ChunkedUpload'.length; k++) {
    copy.push(r.prediction.symbol);
    r.push(r.prediction.symbol);
  }
  assert.equal(str(copy), 'ChunkedUpload');
  m.release(r);
  assert.equal(alone.pred[t.length - 1], -1, 'nothing in the stream itself to copy');
  assert.ok(withIndex.pred.some((p) => p >= 0));
});

test("a document's own file in the index is never copied from", () => {
  const m = new MatchModel(PARAMS);
  const secret = 'function hidden() { return "the middle the user removed"; }\n';
  const index = new CrossIndex([{ path: '/w/main.ts', text: secret }]);
  const s = [BOS, ...sym('function hidden() { return "')];
  const own = m.scan(s, undefined, index.view('/w/main.ts'));
  assert.equal(own.prediction.symbol, -1, 'its own copy on disk is left out');
  m.release(own);
  const other = m.scan(s, undefined, index.view('/w/else.ts'));
  assert.equal(String.fromCharCode(other.prediction.symbol), 't', 'another document may copy it');
  m.release(other);
  assert.deepEqual(m.anchors(s, s.length, 0, 0, 4, index.view('/w/main.ts')), []);
});

test('a match into the index ends at its file: nothing is predicted past it, never the next file', () => {
  const m = new MatchModel(PARAMS);
  const index = new CrossIndex([{ path: '/a', text: 'let alpha = 1;' }, { path: '/b', text: 'ZZZZ' }]);
  const r = m.scan([BOS, ...sym('let alpha = 1')], undefined, index.view(undefined));
  assert.equal(String.fromCharCode(r.prediction.symbol), ';');
  r.push(59);
  assert.equal(r.prediction.symbol, -1, 'the file ended');
  assert.equal(r.prediction.lambda, 0);
  m.release(r);
});

test('the per-position track with the index predicts what a scan with the index does', () => {
  const m = new MatchModel(PARAMS);
  const index = new CrossIndex([{ path: '/a', text: UTIL }, { path: '/b', text: 'export const TABLE = new Uint32Array(256);\n' }]);
  const ext = index.view(undefined);
  const s = [BOS, ...sym('// x\nexport function crc32OfChunkedUpload(chunks) {\n  return 0;\n}\nexport const TABLE = new Uint32Array(512);\n')];
  const out = predictions(m, s, ext);
  const track = new MatchTrack(m);
  track.setExternal(ext);
  for (let i = 0; i < s.length; i++) {
    track.step(s, i);
    assert.equal(track.symbol(s), out.pred[i], `position ${i}`);
  }
  assert.ok(out.pred.filter((p) => p >= 0).length > 40, 'most of it is copied from the index');
});

test('no peeking: changing byte i changes no prediction at or before i, with the index', () => {
  const m = new MatchModel(PARAMS);
  const index = new CrossIndex([{ path: '/a', text: UTIL.repeat(2) }]);
  const ext = index.view(undefined);
  const base = [BOS, ...sym(UTIL.slice(0, 60) + UTIL.slice(30))];
  const ref = predictions(m, base, ext);
  for (const i of [5, 20, 40, 70, 100]) {
    const s = [...base];
    s[i] = s[i] === 65 ? 66 : 65;
    const got = predictions(m, s, ext);
    for (let j = 0; j <= i; j++) {
      assert.equal(got.pred[j], ref.pred[j], `byte ${i} changed the prediction at ${j}`);
      assert.equal(got.len[j], ref.len[j]);
    }
  }
});

test('a middle is anchored in another file when its prefix and suffix both occur there', () => {
  const m = new MatchModel(PARAMS);
  const lib = 'function area(w, h) {\n  const result = w * h * SCALE;\n  return result;\n}\n';
  const index = new CrossIndex([{ path: '/lib.js', text: lib }]);
  // the stream: prefix "... const result = " then the suffix "\n  return result;\n}" elsewhere
  const prefix = sym('function area(w, h) {\n  const result = ');
  const suffix = sym('\n  return result;\n}\n');
  const s = [...suffix, ...prefix];
  const a = m.anchors(s, s.length, 0, suffix.length, 2, index.view('/main.js'));
  assert.ok(a.length >= 1);
  assert.equal(a[0].twoSided, true);
  assert.ok(a[0].source < 0, 'the source is in the index');
  const r = m.scan(s, undefined, index.view('/main.js'));
  r.anchorAt(a[0]);
  const middle: number[] = [];
  for (let k = 0; k < 40 && r.prediction.symbol >= 0 && r.prediction.symbol < 256; k++) {
    middle.push(r.prediction.symbol);
    r.push(r.prediction.symbol);
  }
  assert.equal(str(middle), 'w * h * SCALE;');
  m.release(r);
});

test('built in chunks, with pauses between them, the index is the one a single pass builds', async () => {
  // files of random bytes with some NULs, and a long file: several chunks, boundaries inside and between them
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
  const words = ['const ', 'return ', 'function ', 'x', 'y', '(', ')', ';\n', ' = ', 'crc32', '\0'];
  const file = (n: number) => {
    let t = '';
    while (t.length < n) t += words[Math.floor(rand() * words.length)];
    return t;
  };
  const parts = [{ path: '/w/a.ts', text: file(3 * BUILD_CHUNK + 17) }, { path: '/w/b.ts', text: file(5000) }, { path: '/w/c.ts', text: '' }, { path: '/w/d.ts', text: file(BUILD_CHUNK) }];
  const once = new CrossIndex(parts);
  let pauses = 0;
  const chunked = await CrossIndex.build(parts, async () => {
    pauses++;
    await new Promise((r) => setImmediate(r)); // anything may run here: a request goes first
  });
  assert.equal(pauses, Math.ceil(once.size / BUILD_CHUNK), 'a pause before every chunk');
  assert.ok(pauses >= 4);
  assert.deepEqual(chunked.files, once.files);
  assert.deepEqual(chunked.text, once.text);
  const chains = (x: CrossIndex) => x as unknown as { head: Int32Array; prev: Int32Array };
  assert.deepEqual(chains(chunked).prev, chains(once).prev);
  assert.deepEqual(chains(chunked).head, chains(once).head);
  // and what a user gets from it: the same lookups
  const view = chunked.view('/w/main.ts');
  const probe = [BOS, ...sym(parts[0].text.slice(BUILD_CHUNK - 40, BUILD_CHUNK + 40).replace(/\0/g, ' '))];
  const get = (j: number) => probe[j];
  for (let i = 9; i < probe.length; i++) {
    assert.deepEqual([...chunked.candidates(get, i, view, 64)], [...once.candidates(get, i, once.view('/w/main.ts'), 64)], `position ${i}`);
  }
});

test('an index position is found only by the 8 bytes before it, never across a file boundary', () => {
  const x = new CrossIndex([{ path: '/w/a.ts', text: 'abcdefgh' }, { path: '/w/b.ts', text: 'ijklmnopQ' }]);
  const view = x.view(undefined);
  const at = (s: string) => {
    const q = [BOS, ...sym(s)];
    return [...x.candidates((j) => q[j], q.length, view, 16)].map((p) => String.fromCharCode(x.at(p)));
  };
  assert.deepEqual(at('ijklmnop'), ['Q']);
  assert.deepEqual(at('abcdefgh'), [], 'the end of a file predicts nothing');
  assert.deepEqual(at('fghijklm'), [], 'no context spans two files');
});
