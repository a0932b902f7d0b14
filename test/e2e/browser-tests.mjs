// Browser tests: run by test/e2e/run.mjs against the real workbench DOM, in a
// window where the extension under test is loaded (extensionDevelopmentPath).
//
// Each test: { name, timeoutMs?, artifacts?: [files it writes under test/artifacts,
// deleted before it runs], files?: {relPath: text} (written to the workspace
// before VS Code starts), settings?: {key: value} (user settings for the whole run,
// both phases), run({ page, workbench, workspace, artifacts, log, note }) }
// page: playwright Page; workbench: test/e2e/server.mjs makeWorkbench (openFile,
// runCommand, waitForStatus, ghost, visibleText); artifacts: test/artifacts
// (git-ignored); log(msg) prints; note(msg) prints a figure in the summary.
import fs from 'node:fs';
import path from 'node:path';
import { listFiles } from './server.mjs';

const EXTENSION_ID = 'megabyte-local.megabyte-complete';

const GHOST_TIMEOUT_MS = Number(process.env.E2E_GHOST_TIMEOUT_S || 90) * 1000;
const MODEL_READY = /MEGABYTE \S+ · (CPU|CUDA|WebGPU)/;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what, fn, timeoutMs, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** The continuation panel's page: a webview is an iframe holding the page's own iframe. */
function continuationFrame(page) {
  return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
}

/** Text as typed (the editor renders spaces as no-break spaces). */
const ghostLine = (t) => (t ?? '').replace(/\u00a0/g, ' ');

/**
 * The ghost text on screen: its first line (one decoration per token, after the cursor) and the
 * lines below it (a view zone); '' when none is shown.
 */
async function ghostText(page) {
  const first = (await page.locator('.ghost-text-decoration, .ghost-text-decoration-preview').allTextContents()).join('');
  const rest = await page.locator('.suggest-preview-text .view-line').allTextContents();
  return ghostLine([first, ...rest].join('\n'));
}

/**
 * A file and what the test types at its end: greet_loud repeats greet's body, and the rest of
 * `return mess` is `age`, a copy from above that the calibrated model is sure of (0.68 with three
 * candidates, 0.84 for the first line early, against the default 0.5: npm run complete on this
 * text). A whole copy of greet's first line under `def greet_loud(name):` is right too, but the
 * calibration gives it 0.003: in the training split such copies into a new function are mostly wrong.
 */
export const RIGHT_PY = 'def greet(name):\n    message = "Hello, " + name + "!"\n    print(message)\n    return message\n\n\n'
  + 'def greet_loud(name):\n    message = "Hello, " + name + "!"\n    print(message)\n';
export const RIGHT_TYPED = '    return mess';
export const RIGHT_REST = 'age';

/** The issue's case: under circle_area, the model copies its body into fibonacci (wrong, and confident). */
const WRONG_PY = 'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n\n\n';
const WRONG_TYPED = 'def fibonacci(n):';
/** First lines of a right fibonacci body: a shown text must start one of them (or be cut inside one). */
const FIB_FIRST_LINES = ['if n < 2:', 'if n <= 1:', 'if n == 0:', 'if n == 1:', 'if n < 0:', 'if n <= 0:', 'if n in (0, 1):', 'a, b = 0, 1', 'return n if n < 2 else', '"""'];

/** Lines of the extension's own logs in this run (debug level: one line per engine answer). */
function extensionLog(workspace) {
  const logs = path.join(path.dirname(workspace), 'user-data', 'logs');
  return listFiles(logs).filter((f) => f.includes(EXTENSION_ID) && f.endsWith('.log')).flatMap((f) => fs.readFileSync(f, 'utf8').split('\n'));
}

const CONTINUE_PY = 'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n\n\ndef fibonacci(n):\n    ';

export const browserTests = [
  {
    // The model copies the function above: right, so confident enough to show with the model's
    // default megabyte.completion.minConfidence (calibrated or not).
    name: 'ghost text appears after typing where the model is right, with the default confidence threshold (screenshot test/artifacts/ghost-text.png)',
    timeoutMs: GHOST_TIMEOUT_MS + 60_000,
    artifacts: ['ghost-text.png'],
    files: { 'ghost.py': RIGHT_PY },
    async run({ page, workbench, artifacts, log, note }) {
      const status = await workbench.waitForStatus(MODEL_READY, GHOST_TIMEOUT_MS);
      note(`status bar in the DOM: "${status}"`);
      await workbench.openFile('ghost.py');
      log('ghost.py open; typing');
      await page.keyboard.press('Control+End');
      await page.keyboard.type(RIGHT_TYPED, { delay: 40 });
      const ghost = workbench.ghost();
      await ghost.waitFor({ state: 'visible', timeout: GHOST_TIMEOUT_MS });
      await sleep(500); // the whole line's tokens rendered
      const first = (await ghostText(page)).split('\n')[0];
      log(`ghost text: ${JSON.stringify(first)}`);
      await page.screenshot({ path: path.join(artifacts, 'ghost-text.png') });
      // What the user sees is right: the rest of the name, at least 3 characters of it.
      if (first.trim().length < 3 || !RIGHT_REST.startsWith(first.trimEnd())) {
        throw new Error(`the ghost text ${JSON.stringify(first)} is not the start of ${JSON.stringify(RIGHT_REST)}`);
      }
      note(`ghost text where the model is right: ${JSON.stringify(first)}`);
    },
  },
  {
    // A language override (user settings, "[plaintext]"), so the other tests keep the default; a
    // workspace .vscode/settings.json written while the workbench runs was not picked up in time.
    name: 'megabyte.completion.minConfidence 0 ("[plaintext]" override) shows everything: the copy of circle_area under def fibonacci(n) shows as ghost text',
    timeoutMs: GHOST_TIMEOUT_MS + 60_000,
    files: { 'zero.txt': WRONG_PY },
    settings: { '[plaintext]': { 'megabyte.completion.minConfidence': 0 } },
    async run({ page, workbench, workspace, log, note }) {
      await workbench.waitForStatus(MODEL_READY, GHOST_TIMEOUT_MS);
      await workbench.openFile('zero.txt');
      await page.keyboard.press('Control+End');
      await page.keyboard.type(WRONG_TYPED, { delay: 40 });
      await page.keyboard.press('Enter');
      const ghost = workbench.ghost();
      await ghost.waitFor({ state: 'visible', timeout: GHOST_TIMEOUT_MS });
      await sleep(500); // the whole line's tokens rendered
      const first = (await ghostText(page)).split('\n')[0];
      log(`ghost text at minConfidence 0: ${JSON.stringify(first)}`);
      if (first.trim() === '') throw new Error('the ghost text at minConfidence 0 is blank');
      // the engine answered at threshold 0 (the override reached it), not uncalibrated
      const line = extensionLog(workspace).filter((l) => /zero\.txt v\d+ @\d+: \d+ candidates/.test(l)).pop() ?? '';
      if (!/at confidence 0[,\s]|at confidence 0$/.test(line)) throw new Error(`the extension did not ask at minConfidence 0: ${line}`);
      note(`minConfidence 0, def fibonacci(n) under circle_area: ghost text ${JSON.stringify(first)}`);
    },
  },
  {
    // The issue's case: the model confidently copies circle_area's body into fibonacci. With the
    // model's calibrated default it must show nothing, or a prefix that is right; Alt+\ still
    // shows a candidate whatever its confidence. Fails with a model that has no calibration
    // (everything is shown, the wrong copy too).
    name: 'with the default confidence threshold, a wrong-but-confident copy (circle_area under def fibonacci(n)) shows nothing or a correct prefix, and Trigger Inline Suggestion (Alt+\\) still shows a candidate',
    timeoutMs: GHOST_TIMEOUT_MS + 90_000,
    files: { 'wrong.py': WRONG_PY },
    async run({ page, workbench, workspace, log, note }) {
      await workbench.waitForStatus(MODEL_READY, GHOST_TIMEOUT_MS);
      await workbench.openFile('wrong.py');
      await page.keyboard.press('Control+End');
      await page.keyboard.type(WRONG_TYPED, { delay: 40 });
      await page.keyboard.press('Enter');
      // The answer to the full request (every candidate) at the new line, in the extension's debug log.
      const after = WRONG_PY.length + WRONG_TYPED.length + 1;
      const line = await waitUntil('the extension to log its answer at the new line of wrong.py', () => {
        const hits = extensionLog(workspace).filter((l) => /wrong\.py v\d+ @(\d+): \d+ candidates/.test(l) && Number(/@(\d+):/.exec(l)[1]) >= after);
        return hits.find((l) => !/: 1 candidates/.test(l));
      }, GHOST_TIMEOUT_MS, 500);
      log(`extension: ${line.slice(line.indexOf('complete '))}`);
      await sleep(1500); // what it offered reaches the screen
      const all = await ghostText(page);
      const first = all.split('\n')[0];
      if (all.trim() !== '') {
        const rightStart = FIB_FIRST_LINES.some((c) => c.startsWith(first.trim()) || first.trim().startsWith(c));
        if (/radius|math\.pi/.test(all) || !rightStart) {
          throw new Error(`wrong ghost text shown with the default threshold: ${JSON.stringify(all)} (the model ${/uncalibrated/.test(line) ? 'has no calibration: everything is shown' : 'is calibrated'}; ${line.slice(line.indexOf('complete '))})`);
        }
      }
      note(`default threshold, def fibonacci(n) under circle_area: ${all.trim() === '' ? 'nothing shown' : `shows ${JSON.stringify(first)}`}`);
      // An explicit ask shows a candidate whatever its confidence: the command Alt+\ runs (a
      // playwright press of Alt+\ showed nothing in this workbench, where the command did).
      await workbench.runCommand('Trigger Inline Suggestion');
      const ghost = workbench.ghost();
      await ghost.waitFor({ state: 'visible', timeout: 30_000 });
      await sleep(500);
      note(`Trigger Inline Suggestion there shows ${JSON.stringify(await ghostText(page))}`);
    },
  },
  {
    name: 'Summarize continuation: Insert in the panel inserts that candidate at the cursor',
    timeoutMs: 240_000,
    artifacts: ['continuation.png'],
    files: { 'continue.py': CONTINUE_PY },
    settings: { 'megabyte.continuation.maxBytes': 64 },
    async run({ page, workbench, workspace, artifacts, log, note }) {
      await workbench.waitForStatus(MODEL_READY);
      await workbench.openFile('continue.py');
      await page.keyboard.press('Control+End');
      await workbench.runCommand('MEGABYTE: Summarize continuation');
      const frame = continuationFrame(page);
      const sections = frame.locator('section.candidate');
      await sections.first().waitFor({ state: 'visible', timeout: 180_000 });
      const texts = [];
      for (let i = 0; i < (await sections.count()); i++) texts.push((await sections.nth(i).locator('pre.text').textContent()) ?? '');
      // The first candidate with something visible in it (a model in training writes many spaces).
      let index = texts.findIndex((t) => /\S/.test(t));
      if (index < 0) index = texts.findIndex((t) => t.length > 0);
      if (index < 0) throw new Error(`every candidate is empty: ${JSON.stringify(texts)}`);
      const text = texts[index].replace(/\uFFFD+$/, ''); // what Insert inserts (an incomplete character is cut)
      log(`candidates ${JSON.stringify(texts)}; inserting #${index + 1}`);
      await page.screenshot({ path: path.join(artifacts, 'continuation.png') });
      await sections.nth(index).locator('button.insert').click();

      // The editor shows the inserted text (its last line with content is where the cursor went) ...
      const lastLine = text.split('\n').map((l) => l.trim()).filter(Boolean).pop();
      if (lastLine) {
        await waitUntil(`the editor to show ${JSON.stringify(lastLine)}`, async () => (await workbench.visibleText()).includes(lastLine), 15_000);
      }
      // ... and saving writes exactly the original text with the candidate at the cursor.
      await page.keyboard.press('Control+S');
      const file = path.join(workspace, 'continue.py');
      const expected = CONTINUE_PY + text;
      await waitUntil('continue.py to be saved with the continuation', () => fs.readFileSync(file, 'utf8') !== CONTINUE_PY, 15_000);
      const saved = fs.readFileSync(file, 'utf8');
      if (saved !== expected) throw new Error(`continue.py after Insert:\n${JSON.stringify(saved)}\nexpected\n${JSON.stringify(expected)}`);
      note(`continuation Insert: ${Buffer.byteLength(text)} bytes inserted from candidate ${index + 1} of ${texts.length}`);
    },
  },
  {
    name: 'clicking the status bar opens the model picker with each model\'s size, device and bits per byte (screenshot test/artifacts/picker.png)',
    timeoutMs: 180_000,
    artifacts: ['picker.png'],
    async run({ page, workbench, artifacts, note }) {
      await workbench.waitForStatus(MODEL_READY);
      await page.locator('.statusbar-item', { hasText: 'MEGABYTE' }).first().click();
      const rows = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
      const model = rows.filter({ hasText: 'mb-small' }).first();
      await model.waitFor({ state: 'visible', timeout: 30_000 });
      const row = ((await model.textContent()) ?? '').replace(/\s+/g, ' ').trim();
      // The serving model: its size, the device it runs on and its held-out bits per byte.
      if (!/MB/.test(row) || !/on (CPU|CUDA|WebGPU)/.test(row) || !/bits\/byte held-out/.test(row)) {
        throw new Error(`the picker row for mb-small lacks size, device or bits per byte: ${JSON.stringify(row)}`);
      }
      if ((await rows.filter({ hasText: /Pause completions|Resume completions/ }).count()) !== 1) throw new Error('no pause/resume entry in the picker');
      note(`picker: ${row}`);
      await page.screenshot({ path: path.join(artifacts, 'picker.png') });
      await page.keyboard.press('Escape');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 15_000 });
    },
  },
  {
    name: 'surprisal view shades lines in the editor and toggling again removes the shading (screenshot test/artifacts/surprisal.png)',
    timeoutMs: 180_000,
    artifacts: ['surprisal.png'],
    files: {
      'surprise.py': 'def add(a, b):\n    return a + b\n\n\nTOKEN = "k9Q$zX!7@vB#2mL^wR0&"\n\n\ndef sub(a, b):\n    return a - b\n',
    },
    async run({ page, workbench, artifacts, note }) {
      await workbench.waitForStatus(MODEL_READY);
      await workbench.openFile('surprise.py');
      // Decoration types from the extension API render as .cdr.ced-* overlays behind whole lines.
      const shaded = page.locator('.editor-instance .view-overlays .cdr[class*="ced-"]');
      const before = await shaded.count();
      if (before !== 0) throw new Error(`${before} lines shaded before the toggle`);
      await workbench.runCommand('MEGABYTE: Toggle surprisal view');
      const n = await waitUntil('shaded lines', async () => (await shaded.count()) || undefined, 120_000);
      note(`surprisal: ${n} of 9 lines shaded`);
      await page.screenshot({ path: path.join(artifacts, 'surprisal.png') });
      await workbench.runCommand('MEGABYTE: Toggle surprisal view');
      await waitUntil('the shading to go', async () => (await shaded.count()) === 0, 15_000);
    },
  },
];
