"""The symbol alphabet and the ONNX contract: declared here once for Python, and once for
TypeScript in src/engine/contract.ts; test_contract.py checks the two agree.

Symbols 0..255 are bytes. Four sentinels follow. Each sentinel is one symbol, occupying one
position of the stream exactly like a byte, so patches stay fixed-size and nothing else in the
patch structure changes.

Fill-in-the-middle layout (suffix first, then prefix, then middle):
    BOS far_prefix SUF suffix PRE near_prefix middle EOM
`far_prefix` is plain left-to-right text (the engine aligns its end to a global patch, so its
KV cache survives cursor moves); `near_prefix` + `middle` are contiguous, so bytes typed at the
cursor extend the sequence instead of rewriting it. Left-to-right text is `BOS text`.
"""
BOS = 256  # start of a file
SUF = 257  # the text after the cursor follows
PRE = 258  # the suffix ended; the text before the cursor resumes
EOM = 259  # end of the middle: the completion is done
VOCAB_SIZE = 260
PAD = VOCAB_SIZE  # embedding-only symbol: "no previous unit" (the learned pad)

# ONNX graph names. Level l is the file `level{l}.onnx`; level 0 is the global model.
ONNX = {
    "input_units": "prev_units",       # int64 (N, S, unit): symbols of the unit before each position
    "input_context": "context",        # float (N, S, D): the parent's context (levels > 0)
    "past_length": "past_length",      # int64 (1,): positions already in the past tensors
    "past_key": "past_key.{i}",        # float (N, kv_heads, C >= past_length, head_dim)
    "past_value": "past_value.{i}",
    "output_context": "child_context",  # float (N, S, p, D_child) (levels < last)
    "output_logits": "logits",          # float (N, S, VOCAB_SIZE) (last level)
    "new_key": "new_key.{i}",          # float (N, kv_heads, S, head_dim): the S new positions
    "new_value": "new_value.{i}",
}
