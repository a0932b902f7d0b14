"""MEGABYTE (Yu et al. 2023), multiscale form, in one readable file.

Symbols: 256 bytes plus the sentinels of `symbols.py` (BOS, SUF, PRE, EOM); one extra embedding
row, PAD, stands for "no previous unit" and gives each level its learned pad.

Levels. `patch_sizes = [p0, p1, ...]` cuts the stream hierarchically. With `[8, 8]`:
  level 0 (global) runs over patches of 64 symbols,
  level 1 runs over the 8 sub-patches (8 symbols each) of one global patch,
  level 2 (local) runs over the 8 symbols of one sub-patch and predicts them.
`unit(l)` is the number of symbols one position of level l covers (64, 8, 1 above).
`patch_sizes = []` is a single level with unit 1: a plain byte-level transformer, the baseline.

Level l's input at position j (a unit of `unit(l)` symbols):
  in_proj_l(concat(embed_l(symbols of unit j-1)))        (PAD symbols for j = 0: the learned pad)
  + ctx_l[j]                                              (l > 0: from the parent, see below)
Level l < last emits, for each of its positions, ctx for the p_l child positions:
  child_proj_l(h) reshaped (p_l, D_{l+1}).
The last level ends in a norm and the symbol head. Attention is causal at every level, with
rotary positions (relative, so the global level runs past the training length) and grouped-query
attention (few KV heads keep the global KV cache of a 1 MB file small).

Recipe options (ModelConfig fields; the defaults are the recipe the bundled mb-small was trained
with, and every option exports to the same ONNX contract):
  qk_norm       RMSNorm of q and k per head (a learned gain per head dimension) before rotary
  mlp           "gelu" (fc2(gelu(fc1 x))) or "relu2" (fc2(relu(fc1 x)^2))
  zero_init     attention out and MLP out projections start at zero (each block starts as identity)
  ngram_orders  hashed n-gram input embeddings at the levels whose unit holds several symbols
                (the global and middle levels): symbol i of a unit also adds the embedding of
                hash(symbols i-n+1 .. i of that unit) (PAD before the unit's start), one table of
                ngram_buckets rows per order. The local level (unit 1) sees one symbol per
                position and has none. The hash is integer arithmetic on the symbol ids, computed
                inside the exported graph: the engine still feeds the previous units as ids.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

from .symbols import VOCAB_SIZE, PAD


@dataclass
class LevelConfig:
    dim: int
    layers: int
    heads: int
    kv_heads: int
    embed_dim: int  # per-symbol embedding width fed (concatenated) to in_proj
    rope_theta: float = 10000.0

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads


@dataclass
class ModelConfig:
    patch_sizes: list[int] = field(default_factory=lambda: [8, 8])
    levels: list[LevelConfig] = field(default_factory=list)
    vocab_size: int = VOCAB_SIZE
    qk_norm: bool = False
    mlp: str = "gelu"
    zero_init: bool = False
    ngram_orders: list[int] = field(default_factory=list)
    ngram_buckets: int = 8191

    def unit(self, level: int) -> int:
        return math.prod(self.patch_sizes[level:])

    @property
    def top_unit(self) -> int:
        return self.unit(0)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        opts = {k: d[k] for k in RECIPE_FIELDS if k in d}  # absent in checkpoints older than the options
        return ModelConfig(patch_sizes=list(d["patch_sizes"]),
                           levels=[LevelConfig(**lv) for lv in d["levels"]],
                           vocab_size=d["vocab_size"], **opts)

    def recipe(self) -> dict:
        """The recipe options (for the manifest)."""
        return {k: getattr(self, k) for k in RECIPE_FIELDS}

    def validate(self) -> None:
        assert len(self.levels) == len(self.patch_sizes) + 1, "one level per patch size, plus the local"
        for lv in self.levels:
            assert lv.dim % lv.heads == 0 and lv.heads % lv.kv_heads == 0
            assert lv.head_dim % 2 == 0
        assert self.mlp in MLPS, f"mlp must be one of {MLPS}"
        assert all(2 <= n <= NGRAM_MAX_ORDER for n in self.ngram_orders), f"ngram_orders: each 2..{NGRAM_MAX_ORDER}"
        assert len(set(self.ngram_orders)) == len(self.ngram_orders), "ngram_orders: each order once"
        assert self.ngram_buckets > 0


MLPS = ("gelu", "relu2")
RECIPE_FIELDS = ("qk_norm", "mlp", "zero_init", "ngram_orders", "ngram_buckets")
NGRAM_BASE = 263  # hash(s_{i-n+1} .. s_i) = (sum_k s_{i-k} * NGRAM_BASE^k) mod ngram_buckets (export.py builds the same)
NGRAM_MAX_ORDER = 6  # the hash of a longer n-gram would overflow int64 (PAD * 263^6 ~ 8.5e16 < 9.2e18)
QK_NORM_EPS = 1e-6


def ngram_ids(units: torch.Tensor, order: int, buckets: int) -> torch.Tensor:
    """(N, S, U) symbols -> (N, S, U) bucket ids of the order-gram ending at each symbol of a
    unit, symbols before the unit's start read as PAD."""
    h = units
    for k in range(1, order):
        left = F.pad(units, (k, 0), value=PAD)[..., :units.shape[-1]]
        h = h + left * NGRAM_BASE ** k
    return h % buckets


PRESETS: dict[str, ModelConfig] = {
    # The bundled default: trains on 2 CPU cores; global KV cache at 1 MB = 32 MB (fp32).
    "mb-small": ModelConfig([8, 8], [
        LevelConfig(dim=256, layers=4, heads=4, kv_heads=1, embed_dim=16, rope_theta=500000.0),
        LevelConfig(dim=192, layers=2, heads=3, kv_heads=1, embed_dim=32),
        LevelConfig(dim=128, layers=2, heads=2, kv_heads=1, embed_dim=128),
    ]),
    # Tiny models for tests.
    "mb-test": ModelConfig([4, 4], [
        LevelConfig(dim=32, layers=1, heads=2, kv_heads=1, embed_dim=8, rope_theta=500000.0),
        LevelConfig(dim=32, layers=1, heads=2, kv_heads=1, embed_dim=8),
        LevelConfig(dim=32, layers=1, heads=2, kv_heads=1, embed_dim=32),
    ]),
    "plain-test": ModelConfig([], [LevelConfig(dim=32, layers=2, heads=2, kv_heads=1, embed_dim=32)]),
    # The baseline the paper compares against: one level over symbols, parameters matched to mb-small.
    "plain-small": ModelConfig([], [
        LevelConfig(dim=320, layers=5, heads=5, kv_heads=1, embed_dim=320, rope_theta=500000.0),
    ]),
    # mb-small with a larger global level (it runs once per 64 symbols, so it costs little per
    # byte): 384 wide, 6 layers; the inner levels as in mb-small.
    "mb-small-g": ModelConfig([8, 8], [
        LevelConfig(dim=384, layers=6, heads=6, kv_heads=1, embed_dim=16, rope_theta=500000.0),
        LevelConfig(dim=192, layers=2, heads=3, kv_heads=1, embed_dim=32),
        LevelConfig(dim=128, layers=2, heads=2, kv_heads=1, embed_dim=128),
    ]),
    # A larger model for a GPU (the H200 when lent).
    "mb-base": ModelConfig([8, 8], [
        LevelConfig(dim=512, layers=8, heads=8, kv_heads=2, embed_dim=32, rope_theta=500000.0),
        LevelConfig(dim=384, layers=4, heads=6, kv_heads=2, embed_dim=48),
        LevelConfig(dim=256, layers=4, heads=4, kv_heads=1, embed_dim=256),
    ]),
}


def _carried(cfg: ModelConfig, state: dict) -> dict:
    """A fresh state dict of `cfg` (its usual initialisation) with every weight of `state` carried
    over: the start of a function-preserving change (grow, add_ngram), whose new weights are the rest."""
    out = Megabyte(cfg).state_dict()
    for k, v in state.items():
        assert tuple(out[k].shape) == tuple(v.shape), f"{k}: {tuple(v.shape)} vs {tuple(out[k].shape)}"
        out[k] = v
    return out


def grow(cfg: ModelConfig, state: dict, level: int, layers: int) -> tuple[ModelConfig, dict]:
    """Function-preserving depth growth (train.py --grow): `layers` new blocks appended to `level`,
    their attention-out and MLP-out projections zero, so the grown model computes exactly what the
    old one did (each new block adds 0 to the residual stream) and training starts from there.
    The other new weights get the usual initialisation. Returns (grown config, grown state dict)."""
    assert 0 <= level < len(cfg.levels) and layers > 0, "--grow LEVEL:LAYERS with a level of the model"
    grown = copy.deepcopy(cfg)
    grown.levels[level].layers += layers
    out = _carried(grown, state)
    first = cfg.levels[level].layers
    for i in range(first, first + layers):
        for name in ("attn.o.weight", "fc2.weight", "fc2.bias"):
            out[f"levels.{level}.blocks.{i}.{name}"] = torch.zeros_like(out[f"levels.{level}.blocks.{i}.{name}"])
    return grown, out


def add_ngram(cfg: ModelConfig, state: dict, orders: list[int]) -> tuple[ModelConfig, dict]:
    """Function-preserving hashed n-gram input embeddings (train.py --add-ngram): tables for
    `orders` appended to the model's own (if any; theirs are carried over), all zero, so the model
    computes exactly what it did and each new table learns from its first step (an embedding's rows
    get the gradient of the input they are added to). Returns (new config, new state dict)."""
    again = sorted(set(orders) & set(cfg.ngram_orders))
    assert not again, f"--add-ngram: the model already has n-gram embeddings of order {again}"
    new = copy.deepcopy(cfg)
    new.ngram_orders = list(cfg.ngram_orders) + list(orders)
    new.validate()
    out = _carried(new, state)
    first = len(cfg.ngram_orders)
    for k in out:
        if ".ngram." in k and int(k.split(".ngram.")[1].split(".")[0]) >= first:
            out[k] = torch.zeros_like(out[k])
    return new, out


def rope_cos_sin(positions: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables (S, head_dim/2), as onnxruntime's GroupQueryAttention takes them."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim))
    ang = positions.float()[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Half-split (non-interleaved) rotary on (B, H, S, hd): GQA's rotary_interleaved=0."""
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: LevelConfig, qk_norm: bool = False):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q = nn.Linear(cfg.dim, cfg.heads * hd, bias=False)
        self.k = nn.Linear(cfg.dim, cfg.kv_heads * hd, bias=False)
        self.v = nn.Linear(cfg.dim, cfg.kv_heads * hd, bias=False)
        self.o = nn.Linear(cfg.heads * hd, cfg.dim, bias=False)
        if qk_norm:
            self.q_norm = nn.Parameter(torch.ones(hd))
            self.k_norm = nn.Parameter(torch.ones(hd))
        self.qk_norm = qk_norm

    def forward(self, x, cos, sin, past=None):
        # x: (B, S, D); past: optional (k, v) each (B, kvH, P, hd)
        B, S, _ = x.shape
        c, hd = self.cfg, self.cfg.head_dim
        q = self.q(x).view(B, S, c.heads, hd)
        k = self.k(x).view(B, S, c.kv_heads, hd)
        if self.qk_norm:
            q = F.rms_norm(q, (hd,), self.q_norm, QK_NORM_EPS)
            k = F.rms_norm(k, (hd,), self.k_norm, QK_NORM_EPS)
        q, k = q.transpose(1, 2), k.transpose(1, 2)                   # (B, H, S, hd), (B, kvH, S, hd)
        v = self.v(x).view(B, S, c.kv_heads, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        rep = c.heads // c.kv_heads
        kk = k.repeat_interleave(rep, dim=1) if rep > 1 else k
        vv = v.repeat_interleave(rep, dim=1) if rep > 1 else v
        P = kk.shape[2] - S
        if P == 0:
            y = F.scaled_dot_product_attention(q, kk, vv, is_causal=True)
        else:  # query i sees keys 0 .. P + i
            mask = torch.ones(S, P + S, dtype=torch.bool, device=x.device).tril(diagonal=P)
            y = F.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
        y = y.transpose(1, 2).reshape(B, S, c.heads * hd)              # (B, S, H*hd)
        return self.o(y), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: LevelConfig, qk_norm: bool = False, mlp: str = "gelu"):
        super().__init__()
        self.mlp = mlp
        self.ln1 = nn.LayerNorm(cfg.dim)
        self.attn = Attention(cfg, qk_norm)
        self.ln2 = nn.LayerNorm(cfg.dim)
        self.fc1 = nn.Linear(cfg.dim, 4 * cfg.dim)
        self.fc2 = nn.Linear(4 * cfg.dim, cfg.dim)

    def forward(self, x, cos, sin, past=None):
        a, present = self.attn(self.ln1(x), cos, sin, past)
        x = x + a
        h = self.fc1(self.ln2(x))
        h = F.gelu(h) if self.mlp == "gelu" else F.relu(h).square()
        x = x + self.fc2(h)
        return x, present


class Level(nn.Module):
    def __init__(self, cfg: ModelConfig, index: int):
        super().__init__()
        lv = cfg.levels[index]
        self.cfg, self.index, self.unit = lv, index, cfg.unit(index)
        self.last = index == len(cfg.levels) - 1
        self.embed = nn.Embedding(cfg.vocab_size + 1, lv.embed_dim)  # + PAD row
        self.ngram_orders = list(cfg.ngram_orders) if self.unit > 1 else []
        self.ngram_buckets = cfg.ngram_buckets
        self.ngram = nn.ModuleList(nn.Embedding(cfg.ngram_buckets, lv.embed_dim) for _ in self.ngram_orders)
        self.in_proj = nn.Linear(self.unit * lv.embed_dim, lv.dim)
        self.blocks = nn.ModuleList(Block(lv, cfg.qk_norm, cfg.mlp) for _ in range(lv.layers))
        self.ln_f = nn.LayerNorm(lv.dim)
        if self.last:
            self.head = nn.Linear(lv.dim, cfg.vocab_size)
        else:
            self.child_dim = cfg.levels[index + 1].dim
            self.child_proj = nn.Linear(lv.dim, cfg.patch_sizes[index] * self.child_dim)

    def forward(self, prev_units, ctx=None, past=None, start: int | torch.Tensor = 0):
        """prev_units: (N, S, unit) symbols of the unit before each position (PAD for none);
        ctx: (N, S, D) from the parent or None; past: list of (k, v) per layer or None;
        start: position of the first of the S positions. Returns (out, presents) with out
        (N, S, V) logits for the last level, else (N, S, p, D_child) child contexts."""
        N, S, U = prev_units.shape
        e = self.embed(prev_units)                                                         # (N, S, U, e)
        for order, table in zip(self.ngram_orders, self.ngram):
            e = e + table(ngram_ids(prev_units, order, self.ngram_buckets))
        x = self.in_proj(e.reshape(N, S, U * self.cfg.embed_dim))                          # (N, S, D)
        if ctx is not None:
            x = x + ctx
        pos = torch.arange(S, device=x.device) + start
        cos, sin = rope_cos_sin(pos, self.cfg.head_dim, self.cfg.rope_theta)
        presents = []
        for i, blk in enumerate(self.blocks):
            x, pr = blk(x, cos, sin, past[i] if past is not None else None)
            presents.append(pr)
        x = self.ln_f(x)
        if self.last:
            return self.head(x), presents                                      # (N, S, V)
        return self.child_proj(x).view(N, S, -1, self.child_dim), presents    # (N, S, p, Dc)


def prev_units(symbols: torch.Tensor, unit: int) -> torch.Tensor:
    """(N, S*unit) symbols -> (N, S, unit): for each position the symbols of the previous unit,
    PAD for the first."""
    N, T = symbols.shape
    shifted = F.pad(symbols, (unit, 0), value=PAD)[:, :T]
    return shifted.view(N, T // unit, unit)


class Megabyte(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.levels = nn.ModuleList(Level(cfg, i) for i in range(len(cfg.levels)))
        self.apply(self._init)
        if cfg.zero_init:
            for lv in self.levels:
                for blk in lv.blocks:
                    nn.init.zeros_(blk.attn.o.weight)
                    nn.init.zeros_(blk.fc2.weight)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def num_params(self) -> dict:
        per = [sum(p.numel() for p in lv.parameters()) for lv in self.levels]
        return {"total": sum(per), "levels": per}

    def forward(self, symbols: torch.Tensor) -> torch.Tensor:
        """symbols (B, T), T a multiple of the top unit -> logits (B, T, V); logits[:, t]
        predicts symbols[:, t] from symbols[:, :t] (no shift needed by the caller)."""
        B, T = symbols.shape
        cfg = self.cfg
        ctx = None
        x = symbols.view(B, T)   # the sequences of the current level, (N, S*unit)
        for li, level in enumerate(self.levels):
            unit = cfg.unit(li)
            out, _ = level(prev_units(x, unit), ctx)
            if level.last:
                return out.reshape(B, T, -1)
            p = cfg.patch_sizes[li]
            N, S = out.shape[:2]
            ctx = out.reshape(N * S, p, -1)       # (N*S, p, D_child): one child sequence per unit
            x = x.reshape(N * S, p * cfg.unit(li + 1))
        raise AssertionError

    def loss(self, symbols: torch.Tensor) -> torch.Tensor:
        logits = self(symbols)
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), symbols.reshape(-1))
