// @ts-check
// The continuation panel's page script. Model output is untrusted text: every string from the
// data block reaches the DOM through textContent or a property, never through innerHTML.
(function () {
  // eslint-disable-next-line no-undef
  const vscode = acquireVsCodeApi();
  const dataElement = document.getElementById('megabyte-data');
  const root = document.getElementById('root');
  if (!dataElement || !root) return;

  /** @type {{ file: string, model: string, device: string, seconds: number, bytesPerSecond: number,
   *   contextBytes: number, firstByteMs: number,
   *   candidates: { bytes: number, bitsPerByte: number, stoppedBy: string, runs: [string, number, number][] }[] }} */
  const view = JSON.parse(dataElement.textContent || '{}');

  /**
   * @param {string} tag
   * @param {string} [className]
   * @param {string} [text]
   */
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** @param {number} x @param {number} digits */
  function fixed(x, digits) {
    return Number.isFinite(x) ? x.toFixed(digits) : '–';
  }

  /** A row of label/value figures. @param {[string, string][]} pairs */
  function figures(pairs) {
    const dl = el('dl', 'figures');
    for (const [label, value] of pairs) {
      const item = el('div', 'figure');
      item.append(el('dt', undefined, label), el('dd', undefined, value));
      dl.append(item);
    }
    return dl;
  }

  const header = el('header');
  header.append(el('h1', undefined, `Continuation of ${view.file}`));
  header.append(
    figures([
      ['model', view.model],
      ['device', view.device],
      ['time', `${fixed(view.seconds, 1)} s`],
      ['speed', `${fixed(view.bytesPerSecond, 0)} bytes/s`],
      ['first byte', `${fixed(view.firstByteMs, 0)} ms`],
      ['context', `${view.contextBytes.toLocaleString()} bytes`],
    ]),
  );
  const legend = el('p', 'legend');
  legend.append(el('span', undefined, 'Shading: '));
  const levels = ['< 0.5', '0.5–1.5', '1.5–3', '3–5', '≥ 5'];
  levels.forEach((label, i) => legend.append(el('span', `run b${i}`, `${label} bits/byte`)));
  legend.append(el('span', undefined, ' (darker: the model was less sure)'));
  header.append(legend);
  root.append(header);

  if (view.candidates.length === 0) root.append(el('p', 'empty', 'The model generated nothing.'));

  view.candidates.forEach((candidate, index) => {
    const section = el('section', 'candidate');
    const top = el('div', 'candidate-head');
    top.append(el('h2', undefined, `Candidate ${index + 1}`));
    const insert = /** @type {HTMLButtonElement} */ (el('button', 'insert', 'Insert'));
    insert.title = 'Insert this continuation at the cursor where it was generated';
    insert.addEventListener('click', () => vscode.postMessage({ type: 'insert', index }));
    top.append(insert);
    section.append(top);
    section.append(
      figures([
        ['bytes', candidate.bytes.toLocaleString()],
        ['mean', `${fixed(candidate.bitsPerByte, 3)} bits/byte`],
        ['stopped by', candidate.stoppedBy],
      ]),
    );
    const pre = el('pre', 'text');
    for (const [text, level, bits] of candidate.runs) {
      const span = el('span', level >= 0 ? `run b${level}` : 'run unknown', text);
      span.title = bits >= 0 ? `${bits.toFixed(2)} bits/byte` : 'no score';
      pre.append(span);
    }
    section.append(pre);
    root.append(section);
  });
})();
