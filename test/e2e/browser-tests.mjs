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

const CONTINUE_PY = 'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n\n\ndef fibonacci(n):\n    ';

export const browserTests = [
  {
    name: 'ghost text appears after typing (screenshot test/artifacts/ghost-text.png)',
    timeoutMs: GHOST_TIMEOUT_MS + 60_000,
    artifacts: ['ghost-text.png'],
    files: {
      'ghost.py': 'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n\n\n',
    },
    async run({ page, workbench, artifacts, log, note }) {
      const status = await workbench.waitForStatus(MODEL_READY, GHOST_TIMEOUT_MS);
      note(`status bar in the DOM: "${status}"`);
      await workbench.openFile('ghost.py');
      log('ghost.py open; typing');
      await page.keyboard.press('Control+End');
      await page.keyboard.type('def fibonacci(n):', { delay: 40 });
      await page.keyboard.press('Enter');
      const ghost = workbench.ghost();
      await ghost.waitFor({ state: 'visible', timeout: GHOST_TIMEOUT_MS });
      log(`ghost text: ${JSON.stringify(await ghost.textContent())}`);
      await page.screenshot({ path: path.join(artifacts, 'ghost-text.png') });
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
