// A manifest's file paths stay inside the model directory, and so does every tensor's data: a
// graph with ONNX external data (onnxruntime would read it from wherever its location points,
// outside what manifest.json's sha256 covers) is refused before any session is created.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { repoRoot } from '../../src/cli/args';
import { modelPathError, readManifest, type Manifest } from '../../src/engine/manifest';
import { externalDataRefs, OnnxFormatError } from '../../src/engine/onnxfile';

const MODEL = path.join(repoRoot(), 'models', 'mb-small');

// Made with the onnx package (1.23.1, ir_version 8, opset 17): a one-initializer graph (W, 4 floats) whose W is inline,
// external at "../outside.bin" (onnx.external_data_helper.set_external_data), external at
// "/etc/hostname" inside an If node's then_branch, and external at "w.bin" next to the graph.
const FIXTURES = {
  inline: 'CAg6VAoQCgF4CgFXEgNvdXQiA0FkZBIBZyoZCAQQAUIBV0oQAAAAAAAAgD8AAABAAABAQFoPCgF4EgoKCAgBEgQKAggEYhEKA291dBIKCggIARIECgIIBEIECgAQEQ==',
  top: 'CAg6ewoQCgF4CgFXEgNvdXQiA0FkZBIBZypACAQQAUIBV2oaCghsb2NhdGlvbhIOLi4vb3V0c2lkZS5iaW5qCwoGb2Zmc2V0EgEwagwKBmxlbmd0aBICMTZwAVoPCgF4EgoKCAgBEgQKAggEYhEKA291dBIKCggIARIECgIIBEIECgAQEQ==',
  branch: 'CAg6jgIK6AEKAWMSA291dCICSWYqXAoLZWxzZV9icmFuY2gySgoxEgF5IghDb25zdGFudCoiCgV2YWx1ZSoWCAQQAUoQAAAAAAAAAAAAAAAAAAAAAKABBBIEZWxzZWIPCgF5EgoKCAgBEgQKAggEoAEFKnwKC3RoZW5fYnJhbmNoMmoKEAoBVxIBeSIISWRlbnRpdHkSBHRoZW4qPwgEEAFCAVdqGQoIbG9jYXRpb24SDS9ldGMvaG9zdG5hbWVqCwoGb2Zmc2V0EgEwagwKBmxlbmd0aBICMTZwAWIPCgF5EgoKCAgBEgQKAggEoAEFEgFnWgsKAWMSBgoECAkSAGIRCgNvdXQSCgoICAESBAoCCARCBAoAEBE=',
  local: 'CAg6cgoQCgF4CgFXEgNvdXQiA0FkZBIBZyo3CAQQAUIBV2oRCghsb2NhdGlvbhIFdy5iaW5qCwoGb2Zmc2V0EgEwagwKBmxlbmd0aBICMTZwAVoPCgF4EgoKCAgBEgQKAggEYhEKA291dBIKCggIARIECgIIBEIECgAQEQ==',
};
const bytes = (k: keyof typeof FIXTURES) => Buffer.from(FIXTURES[k], 'base64');

test('file paths: relative and inside the directory, on every platform', () => {
  for (const ok of ['level0.onnx', 'sub/level0.onnx', '..level0.onnx', 'a..b/c.onnx']) assert.equal(modelPathError(ok), undefined, ok);
  const bad: [unknown, RegExp][] = [
    ['../level0.onnx', /leaves the model directory/], ['sub/../../x.onnx', /leaves/], ['sub\\..\\..\\x.onnx', /leaves/], ['..', /leaves/],
    ['/etc/passwd', /is absolute/], ['C:\\models\\x.onnx', /is absolute/], ['c:x.onnx', /is absolute/], ['\\\\server\\share\\x.onnx', /is absolute/],
    ['', /relative path/], [undefined, /relative path/], [3, /relative path/], ['a\0b', /NUL/],
  ];
  for (const [p, re] of bad) assert.match(modelPathError(p) ?? 'accepted', re, String(p));
});

test('external data is found at the top level and inside subgraphs; inline data and the bundled graphs have none', async () => {
  assert.deepEqual(externalDataRefs(bytes('inline')), []);
  assert.deepEqual(externalDataRefs(bytes('top')), [{ tensor: 'W', location: '../outside.bin' }]);
  assert.deepEqual(externalDataRefs(bytes('branch')), [{ tensor: 'W', location: '/etc/hostname' }]);
  for (const f of ['level0.onnx', 'level1.onnx', 'level2.onnx']) assert.deepEqual(externalDataRefs(readFileSync(path.join(MODEL, f))), [], f);
  assert.throws(() => externalDataRefs(bytes('top').subarray(0, 40)), OnnxFormatError);
  assert.deepEqual(externalDataRefs(bytes('local')), [{ tensor: 'W', location: 'w.bin' }]);
  // The fixtures are external data as onnxruntime reads it: it loads w.bin next to the graph.
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mb-ext-'));
  try {
    writeFileSync(path.join(tmp, 'local.onnx'), bytes('local'));
    writeFileSync(path.join(tmp, 'w.bin'), Buffer.from(new Float32Array([5, 6, 7, 8]).buffer));
    const s = await ort.InferenceSession.create(path.join(tmp, 'local.onnx'));
    const r = await s.run({ x: new ort.Tensor('float32', new Float32Array(4), [4]) });
    assert.deepEqual([...(r.out.data as Float32Array)], [5, 6, 7, 8]);
    await s.release();
    writeFileSync(path.join(tmp, 'top.onnx'), bytes('top'));
    await assert.rejects(ort.InferenceSession.create(path.join(tmp, 'top.onnx')), /[Ee]xternal data/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('readManifest refuses a path out of the directory, a link out of it, and a graph with external data, naming each', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mb-manifest-'));
  try {
    const dir = path.join(tmp, 'model');
    cpSync(MODEL, dir, { recursive: true });
    const original = readFileSync(path.join(dir, 'manifest.json'), 'utf8');
    const write = (edit: (m: Manifest) => void) => {
      const m = JSON.parse(original) as Manifest;
      edit(m);
      writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
    };
    await readManifest(dir); // the copy as it is loads
    cpSync(path.join(dir, 'level1.onnx'), path.join(tmp, 'level1.onnx'));
    write((m) => { m.files[1].path = '../level1.onnx'; });
    await assert.rejects(readManifest(dir, false), /manifest\.json: files\[1\]\.path "\.\.\/level1\.onnx" leaves the model directory/);
    write((m) => { m.files[2].path = path.join(dir, 'level2.onnx'); });
    await assert.rejects(readManifest(dir, false), /files\[2\]\.path ".*" is absolute/);
    // A symbolic link inside the directory to a file outside it.
    symlinkSync(path.join(tmp, 'level1.onnx'), path.join(dir, 'link.onnx'));
    write((m) => { m.files[1].path = 'link.onnx'; });
    await assert.rejects(readManifest(dir), /link\.onnx: files\[1\]\.path leads out of the model directory/);
    // A graph whose sha256 and size are right but whose data lives outside it.
    const evil = bytes('branch');
    writeFileSync(path.join(dir, 'evil.onnx'), evil);
    write((m) => { m.files[2] = { path: 'evil.onnx', bytes: evil.length, sha256: createHash('sha256').update(evil).digest('hex') }; });
    await assert.rejects(readManifest(dir), /evil\.onnx: 1 tensor\(s\) keep their data outside the file \(ONNX external data: W -> "\/etc\/hostname"\)/);
    // Even inside the directory: the data file is not what sha256 covers.
    const local = bytes('local');
    writeFileSync(path.join(dir, 'local.onnx'), local);
    writeFileSync(path.join(dir, 'w.bin'), Buffer.alloc(16));
    write((m) => { m.files[2] = { path: 'local.onnx', bytes: local.length, sha256: createHash('sha256').update(local).digest('hex') }; });
    await assert.rejects(readManifest(dir), /local\.onnx: 1 tensor\(s\) keep their data outside the file \(ONNX external data: W -> "w\.bin"\); the engine loads only self-contained graphs/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
