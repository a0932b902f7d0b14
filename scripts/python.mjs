// Runs the recipe's Python in the project's virtual environment (.venv), creating it from
// models/training/requirements.txt when missing or when the requirements changed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const venv = path.join(root, '.venv');
const py = path.join(venv, 'bin', 'python');
const req = path.join(root, 'models', 'training', 'requirements.txt');
const stamp = path.join(venv, '.requirements');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

export function ensureVenv() {
  const want = readFileSync(req, 'utf8');
  if (existsSync(py) && existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return py;
  const t0 = Date.now();
  if (!existsSync(py)) run(process.env.PYTHON ?? 'python3', ['-m', 'venv', venv]);
  run(py, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', req]);
  writeFileSync(stamp, want);
  console.error(`python environment ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return py;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const python = ensureVenv();
  const r = spawnSync(python, process.argv.slice(2), { stdio: 'inherit', cwd: root });
  process.exit(r.status ?? 1);
}
