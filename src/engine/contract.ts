// The symbol alphabet and the ONNX graph names: the TypeScript half of the contract whose Python
// half is models/training/megabyte/symbols.py. test/engine/contract.test.ts checks they agree.

export const BOS = 256; // start of a file
export const SUF = 257; // the text after the cursor follows
export const PRE = 258; // the suffix ended; the text before the cursor resumes
export const EOM = 259; // end of the middle: the completion is done
export const VOCAB_SIZE = 260;
export const PAD = VOCAB_SIZE; // embedding-only: "no previous unit" (the learned pad)

export const ONNX = {
  inputUnits: 'prev_units',
  inputContext: 'context',
  pastLength: 'past_length',
  pastKey: (i: number) => `past_key.${i}`,
  pastValue: (i: number) => `past_value.${i}`,
  outputContext: 'child_context',
  outputLogits: 'logits',
  newKey: (i: number) => `new_key.${i}`,
  newValue: (i: number) => `new_value.${i}`,
} as const;

/** The same names in the form symbols.py writes them into manifest.json (`onnx_names`). */
export const ONNX_TEMPLATES: Record<string, string> = {
  input_units: ONNX.inputUnits,
  input_context: ONNX.inputContext,
  past_length: ONNX.pastLength,
  past_key: 'past_key.{i}',
  past_value: 'past_value.{i}',
  output_context: ONNX.outputContext,
  output_logits: ONNX.outputLogits,
  new_key: 'new_key.{i}',
  new_value: 'new_value.{i}',
};
