"""Writes the parity fixture the TypeScript engine is tested against (test/engine/parity.test.ts):
PyTorch bits of every byte of a text, and PyTorch's greedy continuation of a prompt; with the
manifest's match model (megabyte/match.py), its prediction and match length at every position of
the text's stream and the bits of the mixture (test/engine/match.test.ts); with its
context_mixing block (megabyte/cm.py), the CM layer's 8 bit probabilities at every position of a
stream (the text twice, then in the fill-in-the-middle layout with the anchor at the cursor),
alone (exact) and with the network (its bits).

  python models/training/fixture.py --checkpoint runs/mb-small/checkpoint.pt --out models/mb-small/fixture.json
"""
from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval import file_bits, load_match, stream_probs  # noqa: E402
from megabyte import cm, match  # noqa: E402
from megabyte.checkpoint import load_checkpoint  # noqa: E402
from megabyte.model import Megabyte  # noqa: E402
from megabyte.symbols import BOS, EOM, PRE, SUF  # noqa: E402

TEXT = b'''import json
from pathlib import Path


def load_config(path: str) -> dict:
    """Read a JSON configuration file and return it as a dict."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_config(path: str, config: dict) -> None:
    """Write the configuration back, pretty-printed."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)


class Counter:
    def __init__(self):
        self.counts = {}

    def add(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1
'''
PROMPT = b'''def fibonacci(n):
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
'''


def next_range(out: list[int]) -> tuple[int, int, int]:
    """Python twin of nextByteRange in src/engine/sampling.ts (valid UTF-8 continuations)."""
    i, back = len(out) - 1, 0
    while i >= 0 and back < 3 and (out[i] & 0xC0) == 0x80:
        i, back = i - 1, back + 1
    if i < 0:
        return 0, 255, 0
    b = out[i]
    need = 3 if 0xF0 <= b <= 0xF4 else 2 if 0xE0 <= b <= 0xEF else 1 if 0xC2 <= b <= 0xDF else 0
    pending = need - back
    if need == 0 or pending <= 0:
        return 0, 255, 0
    if back == 0:
        special = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}
        if b in special:
            return (*special[b], pending)
    return 0x80, 0xBF, pending


@torch.no_grad()
def greedy(model: Megabyte, prompt: bytes, n: int) -> list[int]:
    """Greedy continuation by full re-forward (no cache): the reference for the cached engine."""
    seq = [BOS] + list(prompt)
    out: list[int] = []
    U = model.cfg.top_unit
    for _ in range(n):
        T = len(seq) + 1
        Tp = -(-T // U) * U
        x = torch.tensor(seq + [0] * (Tp - len(seq)))[None]
        logits = model(x)[0, len(seq)].float()
        lo, hi, pending = next_range(out)
        mask = torch.full_like(logits, float("-inf"))
        if pending:
            mask[lo:hi + 1] = 0
        else:
            mask[:0x80] = 0
            mask[0xC2:0xF5] = 0
            mask[BOS] = 0
            mask[EOM] = 0
        s = int(torch.argmax(logits + mask))
        if s >= 256:
            break
        out.append(s)
        seq.append(s)
    return out


def anchor_cases() -> list[dict]:
    """match.anchor at the start of every line of the second copy of TEXT + TEXT (cursor after
    the indentation, the rest of the line removed), in the FIM layout `BOS SUF suffix PRE prefix`
    and left to right `BOS prefix`: the engine's parity test builds the same streams."""
    doc = TEXT + TEXT
    out = []
    pos = len(TEXT)
    for line in TEXT.split(b"\n")[:-1]:
        c = pos + len(line) - len(line.lstrip(b" "))
        e = pos + len(line)
        pos += len(line) + 1
        fim = [BOS, SUF] + list(doc[e:e + 2048]) + [PRE] + list(doc[:c])
        a = match.anchor(fim, len(fim), 2, len(doc[e:e + 2048]))
        l2r = [BOS] + list(doc[:c])
        b = match.anchor(l2r, len(l2r), 0, 0)
        out.append({"c": c, "e": e, "fim": list(a) if a else None, "l2r": list(b) if b else None})
    return out


def cm_stream() -> tuple[list[int], int]:
    """The CM parity stream and its cursor: `BOS far SUF suffix PRE near` cut from TEXT + TEXT at
    the start of the second copy's `def save_config`, then the rest of that line (the middle) and
    EOM. Both sentinel kinds, repeats for the match models, and a suffix anchor at the cursor."""
    doc = TEXT + TEXT
    c = len(TEXT) + TEXT.index(b"def save_config")
    e = doc.index(b"\n", c)
    far = 1 + len(TEXT) // 2
    stream = [BOS] + list(doc[:far]) + [SUF] + list(doc[e:e + 300]) + [PRE] + list(doc[far:c])
    return stream + list(doc[c:e]) + [EOM], len(stream)


def cm_case(model, manifest: dict) -> dict:
    cmp, mm = manifest["context_mixing"], manifest["match_model"]
    stream, cursor = cm_stream()
    a = match.anchor_in_stream(stream, cursor)
    at = None if a is None else (cursor, *a)
    _, alone = cm.stream_bits(stream, None, cmp, mm, at)
    bits, mixed = cm.stream_bits(stream, stream_probs(model, stream), cmp, mm, at)
    return {"stream": stream, "cursor": cursor, "anchor": list(a) if a else None,
            "alone": alone.tolist(), "probs": mixed.tolist(), "bits": [round(float(b), 5) for b in bits],
            "bits_total": float(bits[1:].sum())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--greedy-bytes", type=int, default=64)
    ap.add_argument("--manifest", help="manifest.json with the match_model (default: the one beside --out)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, _ = load_checkpoint(args.checkpoint)
    bits = file_bits(model, TEXT)
    bits_ctx = file_bits(model, TEXT, context=256)
    fx = {
        "text_b64": base64.b64encode(TEXT).decode(),
        "bits": [round(float(b), 5) for b in bits],
        "bpb": float(bits.mean()),
        "context": 256,
        "bpb_context": float(bits_ctx.mean()),
        "prompt_b64": base64.b64encode(PROMPT).decode(),
        "greedy_b64": base64.b64encode(bytes(greedy(model, PROMPT, args.greedy_bytes))).decode(),
    }
    mf = Path(args.manifest or Path(args.out).parent / "manifest.json")
    if mf.exists() and "match_model" in json.loads(mf.read_text()):
        mm = load_match(mf)
        pred, length, _ = match.predictions([BOS] + list(TEXT), mm["min_len"])
        mixed = file_bits(model, TEXT, mm=mm)
        fx["match"] = {"pred": pred.tolist(), "len": length.tolist(),
                       "bits": [round(float(b), 5) for b in mixed], "bpb": float(mixed.mean()),
                       "anchors": anchor_cases()}
    if mf.exists() and "context_mixing" in json.loads(mf.read_text()):
        fx["cm"] = cm_case(model, json.loads(mf.read_text()))
    Path(args.out).write_text(json.dumps(fx) + "\n")
    print(json.dumps({"bpb": fx["bpb"], "greedy": base64.b64decode(fx["greedy_b64"]).decode("utf-8", "replace")}))


if __name__ == "__main__":
    main()
