// Placeholders for the UI features of src/extension (fill in as they land).
import { activate, closeAllEditors } from './helpers';

describe('ui', () => {
  before(async () => { await activate(); });
  afterEach(async () => { await closeAllEditors(); });

  describe('status bar shows model + device', () => {
    // TODO: api.statusText() names the active model and the device (e.g. "mb-small · cpu").
    it('status text names the model and the device');
  });

  describe('picker switches models', () => {
    // TODO: executeCommand('megabyte.selectModel', <model id>) (or drive the quick pick),
    // then api.statusText() shows the new model and the next completion comes from it.
    it('megabyte.selectModel switches the active model');
  });

  describe('Summarize continuation panel opens and Insert inserts', () => {
    // TODO: executeCommand('megabyte.summarizeContinuation') opens a webview panel
    // (vscode.window.tabGroups shows it); its Insert action inserts the text at the cursor.
    it('opens the panel');
    it('Insert inserts the continuation into the editor');
  });

  describe('surprisal view decorates', () => {
    // TODO: executeCommand('megabyte.toggleSurprisal') on a document decorates its bytes
    // (a browser test can count decorated spans; here: api exposes decoration count).
    it('toggleSurprisal decorates the document and toggling again removes it');
  });

  describe('pause', () => {
    // TODO: executeCommand('megabyte.togglePause') stops new suggestions until toggled back.
    it('togglePause suppresses suggestions');
  });
});
