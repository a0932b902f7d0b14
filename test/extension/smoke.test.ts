import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { COMMANDS, activate, getExtension } from './helpers';

describe('smoke', () => {
  it('the extension is installed', () => {
    const ext = getExtension();
    assert.equal(ext.id.toLowerCase(), 'megabyte-local.megabyte-complete');
  });

  it('activates and exposes its test API', async function () {
    this.timeout(60_000);
    const api = await activate();
    assert.ok(getExtension().isActive, 'extension is active');
    assert.ok(api && typeof api === 'object', 'activate() returns an API object');
    assert.equal(typeof api.lastCompletion, 'function', 'api.lastCompletion()');
    assert.equal(typeof api.statusText, 'function', 'api.statusText()');
  });

  it('registers its commands', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    for (const c of COMMANDS) assert.ok(all.has(c), `command ${c} is registered`);
  });
});
