// Browser tests: run by test/e2e/run.mjs against the real workbench DOM, in a
// window where the extension under test is loaded (extensionDevelopmentPath).
//
// Each test: { name, timeoutMs?, artifacts?: [files it writes under test/artifacts,
// deleted before it runs], files?: {relPath: text} (written to the workspace
// before VS Code starts), run({ page, workbench, workspace, artifacts }) }
// page: playwright Page; workbench.openFile(name) opens a workspace file and
// focuses its editor; artifacts: test/artifacts (git-ignored); log(msg) prints.
import path from 'node:path';

const GHOST_TIMEOUT_MS = Number(process.env.E2E_GHOST_TIMEOUT_S || 90) * 1000;

export const browserTests = [
  {
    name: 'ghost text appears after typing (screenshot test/artifacts/ghost-text.png)',
    timeoutMs: GHOST_TIMEOUT_MS + 60_000,
    artifacts: ['ghost-text.png'],
    files: {
      'ghost.py': 'import math\n\n\ndef circle_area(radius):\n    return math.pi * radius ** 2\n\n\n',
    },
    async run({ page, workbench, artifacts, log }) {
      await workbench.openFile('ghost.py');
      log('ghost.py open; typing');
      await page.keyboard.press('Control+End');
      await page.keyboard.type('def fibonacci(n):', { delay: 40 });
      await page.keyboard.press('Enter');
      const ghost = page.locator('.ghost-text-decoration, .ghost-text-decoration-preview').first();
      await ghost.waitFor({ state: 'visible', timeout: GHOST_TIMEOUT_MS });
      log(`ghost text: ${JSON.stringify(await ghost.textContent())}`);
      await page.screenshot({ path: path.join(artifacts, 'ghost-text.png') });
    },
  },
];
