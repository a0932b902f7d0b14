// Packs what the benchmark needs on a GPU machine that has no Node: this Node binary, the built
// dist/, onnxruntime-node with only its linux-x64 binaries (CPU + WebGPU providers), and the
// Vulkan loader (Debian libvulkan1; WebGPU runs on Vulkan there), into .gpu/bundle.tar.xz.
// scripts/gpu-bench.sh unpacks and runs it there.
//
//   npm run build && node scripts/pack-gpu.mjs      (then carry .gpu to the GPU machine)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const fail = (msg) => { console.error(`pack-gpu: ${msg}`); process.exit(1); };
if (process.platform !== 'linux' || process.arch !== 'x64') fail('packs the linux-x64 binaries: run it on linux-x64');
if (!existsSync(path.join(root, 'dist', 'bench', 'bench.js'))) fail('dist/ is not built: run `npm run build` first');
const vulkan = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/lib/x86_64-linux-gnu/libvulkan.so.1'].find((p) => existsSync(p));
if (!vulkan) fail('no Vulkan loader (libvulkan.so.1): install the Debian package libvulkan1');

const stage = mkdtempSync(path.join(os.tmpdir(), 'mb-gpu-'));
try {
  mkdirSync(path.join(stage, 'bin'));
  mkdirSync(path.join(stage, 'lib'));
  cpSync(process.execPath, path.join(stage, 'bin', 'node'));
  cpSync(vulkan, path.join(stage, 'lib', 'libvulkan.so.1'), { dereference: true });
  cpSync(path.join(root, 'dist'), path.join(stage, 'dist'), { recursive: true });
  const ort = path.join(root, 'node_modules', 'onnxruntime-node');
  const keep = (src) => !src.includes(`${path.sep}bin${path.sep}napi-v6${path.sep}`) || src.includes(path.join('napi-v6', 'linux', 'x64')) ||
    /napi-v6$|napi-v6[/\\]linux$/.test(src);
  cpSync(ort, path.join(stage, 'node_modules', 'onnxruntime-node'), { recursive: true, filter: keep });
  cpSync(path.join(root, 'node_modules', 'onnxruntime-common'), path.join(stage, 'node_modules', 'onnxruntime-common'), { recursive: true });
  mkdirSync(path.join(root, '.gpu'), { recursive: true });
  const out = path.join(root, '.gpu', 'bundle.tar.xz');
  execFileSync('tar', ['-cJf', out, '-C', stage, '.'], { stdio: 'inherit', env: { ...process.env, XZ_OPT: '-6 -T2' } });
  console.log(JSON.stringify({ bundle: path.relative(root, out), mb: Math.round(statSync(out).size / 1e5) / 10, node: process.version }));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
