"""The ONNX graph of one level, written with onnx.helper rather than traced (export.py writes
the files and the manifest; checkpoint.py reads the weights back out of them).

Attention is onnxruntime's fused `com.microsoft.GroupQueryAttention` (measured here 4x faster
than plain ops on CPU, ~20x on GPU), with rotary positions computed inside the op, and every
level takes past keys/values and returns the new positions' ones. The contract is described in
export.py's docstring and megabyte/symbols.py.

Each parameter becomes one initialiser; `GraphBuilder.sources` records which tensor (and whether
transposed) each initialiser holds, which is how checkpoint.state_dict_from_model_dir maps a
committed graph's initialisers back to the state dict: the names are assigned in build order, so
building the graph of a model of the same configuration gives the same names.
"""
from __future__ import annotations

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .model import Megabyte, ModelConfig, NGRAM_BASE, QK_NORM_EPS
from .symbols import ONNX, PAD

OPSET = 21


class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0
        self.weights: dict[tuple[int, str], str] = {}  # one initializer per parameter, however many branches read it
        self.sources: dict[str, tuple[torch.Tensor, bool]] = {}  # initializer -> (parameter, transposed)

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr, base="c") -> str:
        nm = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, domain: str = "", **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, domain=domain or None, **attrs))
        return outs[0] if n_out == 1 else outs

    def branch(self, name: str, build, outputs: list[str]) -> onnx.GraphProto:
        """A subgraph (If branch) of the nodes that `build()` adds; it reads outer names freely
        and its constants live in the outer graph. `build` returns the names that become `outputs`."""
        outer, self.nodes = self.nodes, []
        results = build()
        for src, dst in zip(results, outputs):
            self.nodes.append(helper.make_node("Identity", [src], [dst]))
        nodes, self.nodes = self.nodes, outer
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs])

    def param(self, t: torch.Tensor, base: str, transpose: bool = False) -> str:
        key = (id(t), base)
        if key not in self.weights:
            a = t.detach().float().numpy()
            self.weights[key] = self.const(a.T.copy() if transpose else a, base)
            self.sources[self.weights[key]] = (t, transpose)
        return self.weights[key]

    def linear(self, x: str, lin: torch.nn.Linear) -> str:
        y = self.op("MatMul", [x, self.param(lin.weight, "w", transpose=True)])   # (in, out)
        if lin.bias is not None:
            y = self.op("Add", [y, self.param(lin.bias, "b")])
        return y

    def layer_norm(self, x: str, ln: torch.nn.LayerNorm) -> str:
        return self.op("LayerNormalization", [x, self.param(ln.weight, "g"), self.param(ln.bias, "b")],
                       axis=-1, epsilon=ln.eps)

    def head_rms_norm(self, x: str, gain: torch.Tensor, heads: int, hd: int) -> str:
        """(N, S, heads*hd) -> the same, each head RMS-normalised with the gain (hd,): model.Attention's QK-norm."""
        i64 = lambda *xs: self.const(np.array(xs, np.int64))  # noqa: E731
        h = self.op("Reshape", [x, i64(0, 0, heads, hd)])
        ms = self.op("ReduceMean", [self.op("Mul", [h, h]), i64(-1)], keepdims=1)
        r = self.op("Sqrt", [self.op("Add", [ms, self.const(np.array(QK_NORM_EPS, np.float32))])])
        h = self.op("Mul", [self.op("Div", [h, r]), self.param(gain, "g")])
        return self.op("Reshape", [h, i64(0, 0, heads * hd)])


def attention_kind(cfg: ModelConfig, li: int) -> str:
    """How a level's graph attends to its past (the contract is the same either way).

    "gqa+split-step": the global level of a multiscale model. Its past is the document (16,384
    positions at 1 MB). Calls of S > 1 positions (encoding, 64 at a time) run onnxruntime's fused
    GroupQueryAttention; a call of one position (a generation step) runs `split_attention`, which
    scores the past buffer and the new position apart with one softmax over both, so nothing
    copies the past: GroupQueryAttention concatenates past and new into a present on every call,
    measured here at 15,000 positions 37 ms per step against 12 ms (while it is 2-4x faster for
    64-position chunks). An `If` on S picks the branch; both read the same weights.
    "gqa": the inner levels (pasts of <= 8 positions) and the plain baseline.
    """
    return "gqa+split-step" if li == 0 and cfg.patch_sizes else "gqa"


def split_attention(g: GraphBuilder, q: str, k: str, v: str, past_k: str, past_v: str, p_len: str,
                    cos: str, sin: str, heads: int, kv_heads: int, hd: int) -> tuple[str, str, str]:
    """Causal attention of S new positions over past_length past positions (in buffers of C >= past_length)
    and themselves, from plain ONNX ops. Returns (attention output (N, S, heads*hd), new keys, new values
    (N, kv_heads, S, hd)). cos/sin: (S, hd/2) for the new positions. Matches model.Attention."""
    grp = heads // kv_heads
    i64 = lambda *xs: g.const(np.array(xs, np.int64))  # noqa: E731

    def rope(x: str) -> str:  # (.., S, hd), half-split as model.apply_rope
        x1, x2 = g.op("Split", [x, i64(hd // 2, hd // 2)], n_out=2, axis=-1)
        return g.op("Concat", [g.op("Sub", [g.op("Mul", [x1, cos]), g.op("Mul", [x2, sin])]),
                               g.op("Add", [g.op("Mul", [x2, cos]), g.op("Mul", [x1, sin])])], axis=-1)

    # q: (N, S, H*hd) -> (N, S, kvH, grp, hd) -> (N, kvH, grp, S, hd), rotated -> (N, kvH, grp*S, hd)
    q5 = g.op("Transpose", [g.op("Reshape", [q, i64(0, 0, kv_heads, grp, hd)])], perm=[0, 2, 3, 1, 4])
    q5 = rope(q5)
    qs = g.op("Reshape", [q5, i64(0, kv_heads, -1, hd)])
    kn = rope(g.op("Transpose", [g.op("Reshape", [k, i64(0, 0, kv_heads, hd)])], perm=[0, 2, 1, 3]))  # (N, kvH, S, hd)
    vn = g.op("Transpose", [g.op("Reshape", [v, i64(0, 0, kv_heads, hd)])], perm=[0, 2, 1, 3])
    scale = g.const(np.array(1.0 / np.sqrt(hd), np.float32))
    # Scores against the past buffer: (N, kvH, grp*S, C); positions >= past_length masked out.
    s_past = g.op("Mul", [g.op("MatMul", [qs, g.op("Transpose", [past_k], perm=[0, 1, 3, 2])]), scale])
    cap = g.op("Squeeze", [g.op("Slice", [g.op("Shape", [past_k]), i64(2), i64(3)]), i64(0)])
    idx = g.op("Range", [g.const(np.array(0, np.int64)), cap, g.const(np.array(1, np.int64))])
    neg = g.const(np.array(-np.inf, np.float32))
    zero = g.const(np.array(0.0, np.float32))
    s_past = g.op("Add", [s_past, g.op("Where", [g.op("Less", [idx, p_len]), zero, neg])])
    # Scores against the new positions: (N, kvH, grp*S, S), causal within the block.
    s_new = g.op("Mul", [g.op("MatMul", [qs, g.op("Transpose", [kn], perm=[0, 1, 3, 2])]), scale])
    n_new = g.op("Squeeze", [g.op("Slice", [g.op("Shape", [k]), i64(1), i64(2)]), i64(0)])
    j = g.op("Range", [g.const(np.array(0, np.int64)), n_new, g.const(np.array(1, np.int64))])
    causal = g.op("Where", [g.op("LessOrEqual", [g.op("Unsqueeze", [j, i64(0)]), g.op("Unsqueeze", [j, i64(1)])]), zero, neg])
    s_new = g.op("Add", [s_new, g.op("Tile", [causal, g.op("Concat", [i64(grp), i64(1)], axis=0)])])
    # One softmax over both parts without concatenating them: the diagonal keeps every row's max finite.
    m = g.op("Max", [g.op("ReduceMax", [s_past, i64(-1)], keepdims=1), g.op("ReduceMax", [s_new, i64(-1)], keepdims=1)])
    e_past, e_new = g.op("Exp", [g.op("Sub", [s_past, m])]), g.op("Exp", [g.op("Sub", [s_new, m])])
    den = g.op("Add", [g.op("ReduceSum", [e_past, i64(-1)], keepdims=1), g.op("ReduceSum", [e_new, i64(-1)], keepdims=1)])
    y = g.op("Div", [g.op("Add", [g.op("MatMul", [e_past, past_v]), g.op("MatMul", [e_new, vn])]), den])
    # (N, kvH, grp*S, hd) -> (N, kvH, grp, S, hd) -> (N, S, kvH, grp, hd) -> (N, S, H*hd)
    y = g.op("Transpose", [g.op("Reshape", [y, i64(0, kv_heads, grp, -1, hd)])], perm=[0, 3, 1, 2, 4])
    return g.op("Reshape", [y, i64(0, 0, heads * hd)]), kn, vn


def build_level(model: Megabyte, li: int) -> GraphBuilder:
    """The graph of level li: the builder, with the checked model in `.proto`."""
    cfg = model.cfg
    level = model.levels[li]
    lv = cfg.levels[li]
    unit, hd = cfg.unit(li), lv.head_dim
    g = GraphBuilder()
    inputs = [helper.make_tensor_value_info(ONNX["input_units"], TensorProto.INT64, ["N", "S", unit])]
    if li > 0:
        inputs.append(helper.make_tensor_value_info(ONNX["input_context"], TensorProto.FLOAT, ["N", "S", lv.dim]))
    inputs.append(helper.make_tensor_value_info(ONNX["past_length"], TensorProto.INT64, [1]))
    for i in range(lv.layers):
        for key in ("past_key", "past_value"):
            inputs.append(helper.make_tensor_value_info(ONNX[key].format(i=i), TensorProto.FLOAT,
                                                        ["N", lv.kv_heads, "P", hd]))
    units = ONNX["input_units"]
    # (N, S, unit) -> (N, S, unit, e) -> (N, S, unit*e) -> (N, S, D)
    emb = g.op("Gather", [g.param(level.embed.weight, "embed"), units], axis=0)
    for order, table in zip(level.ngram_orders, level.ngram):
        # model.ngram_ids: h = sum_k s_{i-k} * NGRAM_BASE^k (PAD before the unit's start), mod buckets
        h = units
        for k in range(1, order):
            left = g.op("Pad", [units, g.const(np.array([0, 0, k, 0, 0, 0], np.int64)), g.const(np.array(PAD, np.int64))])
            left = g.op("Slice", [left, g.const(np.array([0], np.int64)), g.const(np.array([unit], np.int64)),
                                  g.const(np.array([2], np.int64))])
            h = g.op("Add", [h, g.op("Mul", [left, g.const(np.array(NGRAM_BASE ** k, np.int64))])])
        ids = g.op("Mod", [h, g.const(np.array(level.ngram_buckets, np.int64))])
        emb = g.op("Add", [emb, g.op("Gather", [g.param(table.weight, "ngram"), ids], axis=0)])
    shp_units = g.op("Shape", [units])
    ns = g.op("Slice", [shp_units, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64))])
    flat = g.op("Concat", [ns, g.const(np.array([unit * lv.embed_dim], np.int64))], axis=0)
    x = g.linear(g.op("Reshape", [emb, flat]), level.in_proj)
    if li > 0:
        x = g.op("Add", [x, ONNX["input_context"]])
    # Sequence bookkeeping for GroupQueryAttention: total = past_length + S; seqlens_k = total - 1
    # per row. past_length is an input, not the past tensors' length, so the past may be a buffer
    # of any capacity >= past_length (the op reads the first seqlens_k + 1 - S positions of each row).
    p_len = ONNX["past_length"]
    s_len = g.op("Slice", [shp_units, g.const(np.array([1], np.int64)), g.const(np.array([2], np.int64))])
    total64 = g.op("Add", [p_len, s_len])                                   # (1,) int64
    total32 = g.op("Cast", [g.op("Squeeze", [total64, g.const(np.array([0], np.int64))])], to=TensorProto.INT32)
    n_rows = g.op("Slice", [shp_units, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64))])
    seqlens = g.op("Cast", [g.op("Expand", [g.op("Sub", [total64, g.const(np.array([1], np.int64))]), n_rows])],
                   to=TensorProto.INT32)                                    # (N,) int32
    kind = attention_kind(cfg, li)
    inv = g.const((1.0 / (lv.rope_theta ** (np.arange(0, hd, 2, dtype=np.float32) / hd))).astype(np.float32)[None, :], "inv_freq")

    def rope_tables(first: str) -> tuple[str, str]:
        """cos/sin (rows, hd/2) of positions first .. total-1, as model.rope_cos_sin computes them."""
        pos = g.op("Cast", [g.op("Range", [first, g.op("Squeeze", [total64, g.const(np.array([0], np.int64))]),
                                           g.const(np.array(1, np.int64))])], to=TensorProto.FLOAT)
        ang = g.op("Mul", [g.op("Unsqueeze", [pos, g.const(np.array([1], np.int64))]), inv])
        return g.op("Cos", [ang]), g.op("Sin", [ang])

    def gqa(i: int, q: str, k: str, v: str, cos: str, sin: str) -> tuple[str, str, str]:
        pk, pv, att = g.name("present_key"), g.name("present_value"), g.name("attn")
        g.nodes.append(helper.make_node(
            "GroupQueryAttention",
            [q, k, v, ONNX["past_key"].format(i=i), ONNX["past_value"].format(i=i), seqlens, total32, cos, sin],
            [att, pk, pv], domain="com.microsoft", num_heads=lv.heads, kv_num_heads=lv.kv_heads,
            do_rotary=1, rotary_interleaved=0, scale=1.0 / float(np.sqrt(hd))))
        # present (N, kv, max(C, total), hd) -> its positions [past_length, total): the new ones.
        sl = g.const(np.array([2], np.int64))
        return att, g.op("Slice", [pk, p_len, total64, sl]), g.op("Slice", [pv, p_len, total64, sl])

    def stack(split: bool) -> list[str]:
        """The blocks over x: [x out, new_key.0, new_value.0, ...]."""
        if split:  # the tables of the new positions only
            cos, sin = rope_tables(g.op("Squeeze", [p_len, g.const(np.array([0], np.int64))]))
        else:  # GroupQueryAttention indexes them by position: (total, hd/2)
            cos, sin = rope_tables(g.const(np.array(0, np.int64)))
        y, news = x, []
        for i, blk in enumerate(level.blocks):
            h = g.layer_norm(y, blk.ln1)
            q, k, v = g.linear(h, blk.attn.q), g.linear(h, blk.attn.k), g.linear(h, blk.attn.v)
            if blk.attn.qk_norm:
                q = g.head_rms_norm(q, blk.attn.q_norm, lv.heads, hd)
                k = g.head_rms_norm(k, blk.attn.k_norm, lv.kv_heads, hd)
            if split:
                att, kn, vn = split_attention(g, q, k, v, ONNX["past_key"].format(i=i), ONNX["past_value"].format(i=i),
                                              p_len, cos, sin, lv.heads, lv.kv_heads, hd)
            else:
                att, kn, vn = gqa(i, q, k, v, cos, sin)
            news += [kn, vn]
            y = g.op("Add", [y, g.linear(att, blk.attn.o)])
            h = g.layer_norm(y, blk.ln2)
            a = g.linear(h, blk.fc1)
            if blk.mlp == "gelu":
                a = g.op("Gelu", [a])
            else:  # relu2
                a = g.op("Relu", [a])
                a = g.op("Mul", [a, a])
            y = g.op("Add", [y, g.linear(a, blk.fc2)])
        return [y] + news

    kv_names = [ONNX[key].format(i=i) for i in range(lv.layers) for key in ("new_key", "new_value")]
    outputs = [helper.make_tensor_value_info(nm, TensorProto.FLOAT, ["N", lv.kv_heads, "S", hd]) for nm in kv_names]
    names = [g.name("blocks_out")] + kv_names
    if kind == "gqa":
        for src, dst in zip(stack(False), names):
            g.nodes.append(helper.make_node("Identity", [src], [dst]))
    else:
        # One If over the whole stack (the branches read the same initializers): split attention
        # for a one-position call, GroupQueryAttention for a chunk.
        one_step = g.op("Equal", [s_len, g.const(np.array([1], np.int64))])
        then_g = g.branch("step", lambda: stack(True), [n + "_step" for n in names])
        else_g = g.branch("chunk", lambda: stack(False), [n + "_chunk" for n in names])
        g.nodes.append(helper.make_node("If", [one_step], names, then_branch=then_g, else_branch=else_g))
    x = names[0]
    x = g.layer_norm(x, level.ln_f)
    if level.last:
        out_name = ONNX["output_logits"]
        g.nodes.append(helper.make_node("Identity", [g.linear(x, level.head)], [out_name]))
        out_info = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", "S", cfg.vocab_size])
    else:
        out_name = ONNX["output_context"]
        p, dc = cfg.patch_sizes[li], cfg.levels[li + 1].dim
        shape = g.op("Concat", [ns, g.const(np.array([p, dc], np.int64))], axis=0)
        g.nodes.append(helper.make_node("Reshape", [g.linear(x, level.child_proj), shape], [out_name]))
        out_info = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", "S", p, dc])
    graph = helper.make_graph(g.nodes, f"megabyte_level{li}", inputs, [out_info] + outputs, g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
                          producer_name="megabyte-complete")
    m.ir_version = 10
    onnx.checker.check_model(m)
    g.proto = m
    return g


