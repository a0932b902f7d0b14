// The extension's UI in the real editor: status bar, model picker, continuation panel,
// surprisal view and pause. (Insert from the continuation panel is a click inside the webview:
// test/e2e/browser-tests.mjs clicks it.)
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CompleteResult, ModelInfo, ScoreResult } from '../../src/engine/api';
import {
  DEVICE_LABELS,
  bundledModelDir,
  closeAllEditors,
  model,
  openDoc,
  report,
  sleep,
  suggestAndAccept,
  utf8Bytes,
  waitFor,
  withSetting,
  type MegabyteApi,
  useReadyExtension,
} from './helpers';

const SAMPLE = [
  'import math',
  '',
  '',
  'def circle_area(radius):',
  '    """Area of a circle."""',
  '    return math.pi * radius ** 2',
  '',
  '',
  'def fibonacci(n):',
  '    ',
].join('\n');

function continuationTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((g) => g.tabs)
    .filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.includes('megabyte.continuation'));
}

describe('ui', () => {
  let api: MegabyteApi;
  useReadyExtension((a) => (api = a));

  describe('status bar shows model + device', () => {
    it('the status bar item names the serving model and the device it runs on', async () => {
      const serving = model(api);
      assert.ok(serving, 'a model serves');
      const device = DEVICE_LABELS[serving.ep];
      const text = await waitFor('the status bar to show the model', () => {
        const t = api.statusText();
        return t.includes('mb-small') && t.includes(device) ? t : undefined;
      }, 10_000);
      assert.match(text, /MEGABYTE/);
      // Without a GPU (this machine, CI) the CPU execution provider serves: the text says "CPU".
      if (serving.ep === 'cpu') assert.match(text, /\bCPU\b/);
      // A provider that was listed but could not serve is named in the hover, with the reason.
      const tip = api.statusTooltip();
      for (const f of serving.fallbacks) assert.ok(tip.includes(`${DEVICE_LABELS[f.ep]} unavailable`), `the hover does not say ${f.ep} fell back: ${tip}`);
      // Whether suggestions are cut to their confident part, and when not, why (ModelInfo.uncalibrated).
      assert.match(tip, serving.uncalibrated === undefined ? /Confidence \| calibrated/ : /Confidence \| not calibrated: every suggestion is shown/, `the hover says whether the model is calibrated: ${tip}`);
      if (serving.uncalibrated !== undefined) assert.ok(tip.includes('no confidence calibration') || tip.includes('fitted on another'), `the hover says why there is no calibration: ${tip}`);
      report(`status bar: "${text}"; fallbacks in the hover: ${serving.fallbacks.map((f) => DEVICE_LABELS[f.ep]).join(', ') || 'none'}`);
    });
  });

  describe('picker switches models', () => {
    let tmp: string | undefined;
    const restores: (() => Promise<void>)[] = [];
    after(async function () {
      this.timeout(60_000);
      // Back to the bundled model whatever happened above, and the settings as they were.
      if (model(api)?.name !== 'mb-small') await vscode.commands.executeCommand('megabyte.selectModel', bundledModelDir());
      while (restores.length) await restores.pop()!();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('the model picker lists the models folder, switches to the chosen model, and completions still work', async function () {
      this.timeout(180_000);
      // A second model: the bundled one copied under another manifest name (nothing else recomputed).
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'megabyte-models-'));
      const altDir = path.join(tmp, 'mb-alt');
      fs.cpSync(bundledModelDir(), altDir, { recursive: true });
      const manifestPath = path.join(altDir, 'manifest.json');
      const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as { name: string };
      manifest.name = 'mb-alt';
      fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 1));
      restores.push(await withSetting('megabyte.models', 'default', undefined));
      restores.push(await withSetting('megabyte.models', 'folder', tmp));
      await sleep(500); // the settings listener re-resolves "" to the bundled model, already serving: nothing reloads
      assert.equal(model(api)?.name, 'mb-small');

      // The status bar item's command: Bundled › mb-small (active), Models folder › mb-alt, ...
      const picked = vscode.commands.executeCommand<ModelInfo | undefined>('megabyte.selectModel');
      await sleep(1_500); // the quick pick lists the folders
      await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
      await sleep(200);
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      const info = await picked;
      assert.equal(info?.name, 'mb-alt', 'picking the second entry loads the model from the models folder');
      assert.equal(path.resolve(info!.dir), path.resolve(altDir));
      const text = await waitFor('the status bar to show mb-alt', () => (api.statusText().includes('mb-alt') ? api.statusText() : undefined), 10_000);
      assert.ok(!text.includes('mb-small'), `status bar "${text}" no longer names mb-small`);
      assert.equal(vscode.workspace.getConfiguration('megabyte.models').get('default'), 'mb-alt', 'the choice is remembered in megabyte.models.default');

      const editor = await openDoc(SAMPLE, 'python');
      const { inserted } = await suggestAndAccept(api, editor, 90_000);
      assert.ok(inserted.length > 0, 'the new model completes');
      await closeAllEditors();

      // Switching back with a directory argument (what a keybinding can do) needs no picker.
      const back = await vscode.commands.executeCommand<ModelInfo | undefined>('megabyte.selectModel', bundledModelDir());
      assert.equal(back?.name, 'mb-small');
      await waitFor('the status bar to show mb-small again', () => api.statusText().includes('mb-small'), 10_000);
      report(`picker: switched to "${text}" and back`);
    });
  });

  describe('Summarize continuation panel opens and Insert inserts', () => {
    it('opens a webview panel with the generated candidates', async function () {
      this.timeout(180_000);
      const restore = await withSetting('megabyte.continuation', 'maxBytes', 96);
      try {
        await openDoc(SAMPLE, 'python');
        assert.equal(continuationTabs().length, 0, 'no continuation panel before the command');
        const t0 = Date.now();
        const result = await vscode.commands.executeCommand<CompleteResult | undefined>('megabyte.summarizeContinuation');
        assert.ok(result, 'the command returns the generation');
        assert.equal(result.candidates.length, vscode.workspace.getConfiguration('megabyte.completion').get('candidates'), 'one candidate per megabyte.completion.candidates');
        assert.ok(result.candidates.some((c) => utf8Bytes(c.text) > 0), 'a candidate has text');
        for (const c of result.candidates) {
          assert.ok(utf8Bytes(c.text) <= 96, 'each candidate keeps to megabyte.continuation.maxBytes');
          assert.ok(c.text === '' || c.bits.length > 0, 'generated bytes carry their bits (the panel shades by them)');
        }
        const tabs = await waitFor('the continuation panel tab', () => (continuationTabs().length > 0 ? continuationTabs() : undefined), 10_000);
        assert.equal(tabs.length, 1);
        assert.match(tabs[0].label, /MEGABYTE/);
        report(`continuation: ${result.candidates.map((c) => utf8Bytes(c.text)).join('/')} bytes in ${Date.now() - t0} ms, panel "${tabs[0].label}"`);
      } finally {
        await restore();
      }
    });
  });

  describe('surprisal view decorates', () => {
    it('toggleSurprisal scores every byte of the document, and toggling again clears the view', async function () {
      this.timeout(120_000);
      const editor = await openDoc(SAMPLE, 'python');
      const text = editor.document.getText();
      const result = await vscode.commands.executeCommand<ScoreResult | undefined>('megabyte.toggleSurprisal');
      assert.ok(result, 'toggling on returns the scores');
      assert.equal(result.bytes, utf8Bytes(text));
      assert.equal(result.bits.length, result.bytes, 'one score per byte of the document');
      assert.ok(Array.from(result.bits).every((b) => Number.isFinite(b) && b >= 0), 'every score is a finite, non-negative number of bits');
      assert.ok(Math.abs(result.bitsPerByte - result.totalBits / result.bytes) < 1e-3, 'bits per byte is the mean');
      // The same command again clears the view (and returns nothing); a third time scores again.
      assert.equal(await vscode.commands.executeCommand('megabyte.toggleSurprisal'), undefined, 'toggling off returns nothing');
      const again = await vscode.commands.executeCommand<ScoreResult | undefined>('megabyte.toggleSurprisal');
      assert.ok(again && again.bytes === result.bytes, 'after clearing, toggling scores the document again');
      assert.equal(await vscode.commands.executeCommand('megabyte.toggleSurprisal'), undefined);
      report(`surprisal: ${result.bytes} bytes at ${result.bitsPerByte.toFixed(2)} bits/byte in ${result.seconds.toFixed(2)} s`);
    });
  });

  describe('pause', () => {
    it('togglePause suppresses suggestions until toggled back', async function () {
      this.timeout(150_000);
      assert.equal(await vscode.commands.executeCommand('megabyte.togglePause'), true, 'togglePause returns the new state: paused');
      let paused = true;
      try {
        await waitFor('the status bar to say paused', () => api.statusText().includes('paused'), 5_000);
        const editor = await openDoc(SAMPLE, 'python');
        const doc = editor.document;
        const lastBefore = api.lastCompletion();
        // Typing asks the provider at each keystroke, Alt+\ asks explicitly: neither shows anything.
        for (const ch of 'if n') {
          await vscode.commands.executeCommand('type', { text: ch });
          await sleep(400);
        }
        const typed = doc.getText();
        for (let i = 0; i < 3; i++) {
          await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
          await sleep(500);
          await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
        }
        assert.equal(doc.getText(), typed, 'no ghost text was accepted while paused');
        assert.equal(api.lastCompletion(), lastBefore, 'nothing was offered while paused');

        assert.equal(await vscode.commands.executeCommand('megabyte.togglePause'), false, 'toggling again resumes');
        paused = false;
        assert.ok(!api.statusText().includes('paused'));
        // VS Code keeps the empty answer it got for this exact text and position; the next key asks again.
        await vscode.commands.executeCommand('type', { text: ' ' });
        const { inserted } = await suggestAndAccept(api, editor, 90_000);
        assert.ok(inserted.length > 0, 'suggestions come back after resuming');
      } finally {
        if (paused) await vscode.commands.executeCommand('megabyte.togglePause');
      }
    });
  });
});
