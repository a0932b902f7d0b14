import { activate, closeAllEditors } from './helpers';

describe('performance', () => {
  before(async () => { await activate(); });
  afterEach(async () => { await closeAllEditors(); });

  describe('1 MB document responsive', () => {
    // TODO: open a 1 MB document, type at the end: each edit resolves (editor.edit)
    // within ~50 ms while completions run, and a suggestion still arrives.
    it('typing in a 1 MB document stays responsive');
  });
});
