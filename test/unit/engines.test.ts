// package.json's engines.vscode says what the extension suite really runs on: its lower bound is
// the VS Code of the code-server that scripts/setup-vscode.mjs installs (code-server 4.X.Y carries
// VS Code 1.X.Y), so no VS Code older than the tested one is offered the extension. @types/vscode
// may not be newer than that bound (vsce refuses to package then).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../src/cli/args';

const ROOT = repoRoot();

test('engines.vscode starts at the tested VS Code, and @types/vscode is not newer', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const setup = readFileSync(path.join(ROOT, 'scripts', 'setup-vscode.mjs'), 'utf8');
  const cs = /export const CODE_SERVER_VERSION = '4\.(\d+)\.(\d+)'/.exec(setup);
  assert.ok(cs, 'setup-vscode.mjs pins CODE_SERVER_VERSION 4.X.Y');
  const tested = Number(cs[1]);
  const range = /^\^1\.(\d+)\.(\d+)$/.exec(pkg.engines.vscode);
  assert.ok(range, `engines.vscode ${pkg.engines.vscode} is a ^1.M.P range`);
  assert.equal(Number(range[1]), tested, `engines.vscode ${pkg.engines.vscode} allows VS Code older than the tested 1.${tested} (code-server ${cs[0].split("'")[1]})`);
  const types = /^(\d+)\.(\d+)\.\d+$/.exec(pkg.devDependencies['@types/vscode']);
  assert.ok(types && Number(types[1]) === 1 && Number(types[2]) <= Number(range[1]), `@types/vscode ${pkg.devDependencies['@types/vscode']} is newer than engines.vscode`);
});
