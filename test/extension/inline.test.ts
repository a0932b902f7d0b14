import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import {
  accept,
  closeAllEditors,
  openDoc,
  report,
  sleep,
  suggest,
  suggestAndAccept,
  undoTo,
  type MegabyteApi,
  useReadyExtension,
} from './helpers';

/**
 * Prompts tried in turn for cycling, until one yields at least two distinct candidates (after
 * post-processing). Greedy candidates after the first start from another anchor of the match
 * model or another first byte, so each of these gave 3 distinct ones with the bundled model
 * (npm run complete -- --candidates 3 --max-bytes 256 --stop block); the last one has four
 * earlier places the cursor's context continues differently, for the match model's anchors.
 * None giving two is a failure, not a skip: cycling would then be untested.
 */
const CYCLING_PROMPTS: [string, string][] = [
  ['def fibonacci(n):\n    ', 'python'],
  ['import os\nimport sys\n\n\ndef main(argv):\n    ', 'python'],
  ['function add(a, b) {\n  return ', 'javascript'],
  ['export function clamp(x: number, lo: number, hi: number): number {\n  ', 'typescript'],
  ['COLORS = {\n    "sky": "blue",\n    "grass": "green",\n    "blood": "red",\n    "sun": "yellow",\n    "', 'python'],
];

describe('inline completions', () => {
  let api: MegabyteApi;
  useReadyExtension((a) => (api = a));

  describe('ghost text shown and accepted with Tab', () => {
    it('Tab (editor.action.inlineSuggest.commit) inserts exactly the first suggested candidate at the cursor', async function () {
      this.timeout(90_000);
      const editor = await openDoc('def fibonacci(n):\n    ', 'python');
      const before = editor.document.getText();
      const { texts, inserted } = await suggestAndAccept(api, editor, 80_000);
      assert.ok(inserted.length > 0, 'some text was inserted');
      assert.equal(inserted, texts[0], 'the inserted text is the first candidate offered for this document version');
      assert.equal(editor.document.getText(), before + inserted);
    });

    it('accepts in the middle of a line without touching the text after the cursor', async function () {
      this.timeout(90_000);
      const text = 'def area(radius):\n    return \n\n\nprint(area(2))\n';
      const cursor = text.indexOf('return ') + 'return '.length;
      const editor = await openDoc(text, 'python', cursor);
      const { texts, inserted } = await suggestAndAccept(api, editor, 80_000);
      assert.ok(texts.includes(inserted), `the inserted text ${JSON.stringify(inserted)} is one of the offered candidates`);
      assert.equal(editor.document.getText(), text.slice(0, cursor) + inserted + text.slice(cursor));
    });
  });

  describe('next/previous cycling', () => {
    it('showNext shows another candidate and showPrevious comes back to the first', async function () {
      this.timeout(240_000);
      let editor: vscode.TextEditor | undefined;
      let texts: string[] = [];
      const tried: string[][] = [];
      for (const [prompt, language] of CYCLING_PROMPTS) {
        editor = await openDoc(prompt, language);
        texts = await suggest(api, editor, 60_000);
        tried.push(texts);
        if (new Set(texts).size >= 2) break;
        await closeAllEditors();
      }
      // Post-processing dedupes and drops blank candidates; with fewer than two left there is
      // nothing to cycle through, and the test fails rather than pass without checking cycling.
      assert.ok(editor && new Set(texts).size >= 2, `a prompt gives at least two distinct candidates to cycle through; got ${JSON.stringify(tried)}`);
      const doc = editor.document;
      const prompt = doc.getText();

      // 1. as shown: the first candidate
      await sleep(300);
      const first = await accept(editor);
      assert.equal(first, texts[0], 'without cycling, Tab inserts the first candidate');
      await undoTo(editor, prompt);

      // 2. showNext: another candidate
      const again = await suggest(api, editor);
      assert.ok(new Set(again).size >= 2, `asked again, still two distinct candidates: ${JSON.stringify(again)}`);
      await sleep(300);
      await vscode.commands.executeCommand('editor.action.inlineSuggest.showNext');
      await sleep(300);
      const second = await accept(editor);
      assert.notEqual(second, again[0], `showNext (Alt+]) changes the shown candidate (candidates ${JSON.stringify(again)})`);
      assert.ok(again.includes(second), `the cycled-to text ${JSON.stringify(second)} is one of the candidates ${JSON.stringify(again)}`);
      await undoTo(editor, prompt);

      // 3. showNext then showPrevious: back to the first candidate of what is offered now (the
      // workspace context may have grown since step 1, e.g. discovery finished, and changed the list)
      const now = await suggest(api, editor);
      await sleep(300);
      await vscode.commands.executeCommand('editor.action.inlineSuggest.showNext');
      await sleep(300);
      await vscode.commands.executeCommand('editor.action.inlineSuggest.showPrevious');
      await sleep(300);
      const third = await accept(editor);
      assert.equal(third, now[0], `showPrevious (Alt+[) after showNext shows the first candidate again (candidates ${JSON.stringify(now)})`);
      report(`cycling: ${again.length} candidates; Tab inserted ${JSON.stringify(first)}, after showNext ${JSON.stringify(second)}`);
    });
  });

  describe('fast typing never leaves a stale suggestion', () => {
    it('after a burst of typing the suggestion matches the current document', async function () {
      this.timeout(120_000);
      const editor = await openDoc('import math\n\n\ndef circle_area(radius):\n    ', 'python');
      const doc = editor.document;
      // Offered while typing: each must belong to the version it was offered for, never an older one.
      const offered: { version: number; docVersion: number }[] = [];
      const watch = setInterval(() => {
        const last = api.lastCompletion();
        if (last && last.uri === doc.uri.toString()) offered.push({ version: last.version, docVersion: doc.version });
      }, 5);
      try {
        // Typed at 15-40 ms per key (faster than the 150 ms debounce), with one short pause halfway
        // in which a suggestion for the half-typed line can appear and then go stale.
        const burst = 'area = math.pi * radius * radius';
        for (const [i, ch] of [...burst].entries()) {
          await vscode.commands.executeCommand('type', { text: ch });
          await sleep(i === 7 ? 600 : 15 + Math.random() * 25);
        }
      } finally {
        clearInterval(watch);
      }
      const typed = doc.getText();
      assert.ok(typed.endsWith('area = math.pi * radius * radius'), 'the burst was typed into the document');
      const texts = await suggest(api, editor, 60_000);
      await sleep(200);
      const version = doc.version;
      const last = api.lastCompletion();
      const inserted = await accept(editor);
      assert.ok(last && last.version === version, `the suggestion shown was computed for the current version ${version} (got v${last?.version})`);
      assert.ok(texts.includes(inserted), `the accepted text ${JSON.stringify(inserted)} is one offered for v${version}: ${JSON.stringify(texts)}`);
      assert.equal(doc.getText(), typed + inserted, 'accepting appends to the document as typed, with nothing of an older prefix');
      assert.ok(offered.every((o) => o.version <= o.docVersion), 'no suggestion was ever offered for a version newer than the document (sanity)');
      report(`fast typing: ${offered.length ? new Set(offered.map((o) => o.version)).size : 0} version(s) got suggestions during the burst; accepted ${JSON.stringify(inserted)}`);
    });

    it('a suggestion for an older prefix is never accepted after typing past it', async function () {
      this.timeout(120_000);
      const editor = await openDoc('def fibonacci(n):\n    ', 'python');
      const doc = editor.document;
      const old = await suggest(api, editor, 80_000);
      await sleep(300); // the old ghost text is on screen
      // Keys no candidate starts with: the old candidates cannot apply any more.
      const keys = old.some((t) => t.startsWith('QZ')) ? 'ZQ' : 'QZ';
      for (const ch of keys) await vscode.commands.executeCommand('type', { text: ch });
      const typed = doc.getText();
      const typedVersion = doc.version;
      // Tab right away, before the debounced request for the new text can answer.
      await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
      await sleep(300);
      // Either Tab inserted nothing, or a candidate offered for exactly the text as typed.
      const after = doc.getText();
      if (after !== typed) {
        // Accepting makes VS Code ask again at once (served from memory when a longer candidate
        // continues the accepted text), so look for the offer among the recent ones.
        const accepted = after.slice(typed.length);
        const offers = api.recentCompletions().filter((o) => o.uri === doc.uri.toString());
        const match = offers.find((o) => o.version === typedVersion && o.texts.includes(accepted));
        assert.ok(after.startsWith(typed), 'what was accepted continues the current text');
        assert.ok(match, `Tab accepted ${JSON.stringify(accepted)}, not offered for the text as typed (v${typedVersion}); offers: ${JSON.stringify(offers.map((o) => [o.version, o.texts]))}`);
      }
      report(`stale suggestion: Tab right after typing ${keys} ${after === typed ? 'inserted nothing' : 'inserted a fresh candidate'}`);
    });
  });
});
