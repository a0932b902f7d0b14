"""The training recipe's options (Muon, warmdown, n-gram embeddings, EMA), exact resume, the
clock of a distributed run, and the weights of a model directory rebuilt from its graphs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from megabyte.checkpoint import load_checkpoint, load_weights, state_dict_from_model_dir
from megabyte.model import Megabyte, PRESETS, ngram_ids
from megabyte.optim import Muon, orthogonalise, muon_params
from megabyte.symbols import BOS, PAD
from test_train import make_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(ROOT))
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def train(*args, timeout=900):
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *map(str, args)],
                       capture_output=True, text=True, env=ENV, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_orthogonalise_pushes_every_singular_value_towards_one():
    g = torch.Generator().manual_seed(0)
    for shape in ((64, 256), (256, 64)):
        a = torch.randn(*shape, generator=g)
        o = orthogonalise(a)
        assert o.shape == a.shape
        s = torch.linalg.svdvals(o)
        assert s.min() > 0.5 and s.max() < 1.3, (shape, s.min(), s.max())
        # the singular vectors are a's: the result is (about) U V^T
        u, _, vh = torch.linalg.svd(a, full_matrices=False)
        assert torch.nn.functional.cosine_similarity(o.flatten(), (u @ vh).flatten(), dim=0) > 0.95


def test_muon_takes_the_hidden_matrices_and_leaves_embeddings_and_head_to_adamw():
    m = Megabyte(PRESETS["mb-test"])
    mp, rest = muon_params(m)
    names = {id(p): n for n, p in m.named_parameters()}
    assert all(p.dim() == 2 for p in mp)
    assert {names[id(p)] for p in mp} >= {"levels.0.blocks.0.attn.q.weight", "levels.2.blocks.0.fc2.weight",
                                          "levels.0.in_proj.weight"}
    assert {"levels.0.embed.weight", "levels.2.head.weight", "levels.0.ln_f.weight"} <= {names[id(p)] for p in rest}
    # one Muon step moves a weight by lr * sqrt(max(1, out/in)) times a (near) orthogonal matrix
    w = torch.nn.Parameter(torch.zeros(32, 8))
    w.grad = torch.randn(32, 8)
    Muon([w], lr=0.1, momentum=0.0, nesterov=False).step()
    s = torch.linalg.svdvals(-w.detach() / (0.1 * 2.0))
    assert s.min() > 0.5 and s.max() < 1.3


def test_warmdown_is_constant_then_linear_to_zero():
    from train import lr_at
    lr = [lr_at(s, 100, 10, 1.0, schedule="warmdown", warmdown=0.4) for s in range(101)]
    assert lr[0] == pytest.approx(0.1) and lr[9] == pytest.approx(1.0)
    t = lambda s: (s - 10) / 90  # noqa: E731
    for s in range(10, 101):
        want = 1.0 if t(s) <= 0.6 else (1 - t(s)) / 0.4
        assert lr[s] == pytest.approx(want)
    assert lr[100] == 0.0
    # the default stays the cosine to 10 %
    assert lr_at(100, 100, 10, 1.0) == pytest.approx(0.1)


def test_ngram_ids_read_only_the_unit_and_pad_before_it():
    u = torch.tensor([[[5, 6, 7, 8], [9, 10, 11, 12]]])
    big = ngram_ids(u, 2, 10 ** 9)
    assert big[0, 0, 0] == 5 + PAD * 263 and big[0, 0, 1] == 6 + 5 * 263
    assert big[0, 1, 0] == 9 + PAD * 263, "the previous unit's last symbol is not read"
    tri = ngram_ids(u, 3, 10 ** 9)
    assert tri[0, 0, 2] == 7 + 6 * 263 + 5 * 263 ** 2 and tri[0, 0, 1] == 6 + 5 * 263 + PAD * 263 ** 2
    assert (ngram_ids(u, 2, 97) == big % 97).all()


@pytest.mark.parametrize("preset", ["mb-test", "plain-test", "mb-test-modern"])
def test_a_model_dir_rebuilds_the_exported_state_dict_bit_for_bit(tiny_models, preset):
    m, d = tiny_models[preset]
    cfg, state = state_dict_from_model_dir(d)
    assert cfg == m.cfg
    ref = m.state_dict()
    assert list(state) == list(ref)
    for k, v in ref.items():
        assert state[k].dtype == torch.float32 and torch.equal(state[k], v), k
    model, st = load_checkpoint(d)
    assert not model.training and st["model_dir"] == str(d)


def test_the_bundled_model_dir_is_the_source_of_its_weights():
    """models/mb-small's graphs hold the weights the recipe continues from: the PyTorch model
    rebuilt from them scores the parity fixture's text as the fixture says, and (where the git
    history is at hand) equals the weights-only checkpoint that used to be committed beside them."""
    import base64
    import torch.nn.functional as F
    mdir = os.path.join(REPO, "models", "mb-small")
    if not os.path.exists(os.path.join(mdir, "fixture.json")):
        pytest.skip("no bundled model yet")
    model, st = load_checkpoint(mdir)
    fx = json.load(open(os.path.join(mdir, "fixture.json")))
    sym = [BOS] + list(base64.b64decode(fx["text_b64"]))
    U = model.cfg.top_unit
    x = torch.tensor(sym + [0] * (-len(sym) % U))[None]
    with torch.no_grad():
        logits = model(x)[0, : len(sym)]
    bits = F.cross_entropy(logits, x[0, : len(sym)], reduction="none") / np.log(2)
    assert np.abs(bits[1:].numpy() - np.array(fx["bits"])).max() < 1e-3
    assert [s["steps"] for s in st["history"]] == [s["steps"] for s in
                                                  json.load(open(os.path.join(mdir, "manifest.json")))["training"]["segments"]]
    path = "models/training/checkpoints/mb-small.pt"
    try:
        # the commit that removed it; its parent holds the last version (HEAD, before the removal)
        gone = subprocess.run(["git", "-C", REPO, "log", "-1", "--format=%H", "--diff-filter=D", "HEAD", "--", path],
                              capture_output=True, text=True, timeout=60).stdout.strip()
        blob = subprocess.run(["git", "-C", REPO, "show", f"{gone}^:{path}" if gone else f"HEAD:{path}"],
                              capture_output=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        blob = b""
    if not blob:
        pytest.skip("the removed checkpoint is not in this clone's history")
    import io
    ck = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)
    segments = json.load(open(os.path.join(mdir, "manifest.json")))["training"]["segments"]
    if len(ck.get("history", [])) + ("step" in ck) < len(segments):
        # trained on since that checkpoint (segment 6 on): the weights differ by design; the
        # rebuild from graphs stays checked bit for bit on the tiny models (test_init_from_...)
        return
    old = ck["model"]
    _, state = state_dict_from_model_dir(mdir)
    assert list(old) == list(state)
    for k in old:
        assert torch.equal(old[k], state[k]), k


def test_init_from_a_model_dir_continues_its_weights_and_segments(tmp_path, tiny_models):
    _, d = tiny_models["mb-test"]
    mf = json.loads((d / "manifest.json").read_text())
    model_dir = tmp_path / "model"
    import shutil
    shutil.copytree(d, model_dir)
    mf["training"] = {"segments": [{"steps": 7, "seconds": 1.0, "bytes": 1234}], "bytes": 1234}
    (model_dir / "manifest.json").write_text(json.dumps(mf))
    make_corpus(tmp_path)
    train("--preset", "mb-test", "--corpus", tmp_path, "--out", tmp_path / "run", "--seq-len", 256, "--batch-size", 2,
          "--threads", 1, "--steps", 1, "--lr", 0, "--init-from", model_dir, "--eval-every", 100)
    st = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert st["history"] == mf["training"]["segments"] and st["seen_bytes"] == 1234 + 2 * 256
    _, state = state_dict_from_model_dir(model_dir)
    for k, v in state.items():  # lr 0: the weights are the directory's
        assert torch.equal(st["model"][k], v), k
    with pytest.raises(subprocess.CalledProcessError):
        subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--preset", "mb-test", "--corpus", str(tmp_path),
                        "--out", str(tmp_path / "r2"), "--steps", "1", "--init-from", str(tmp_path / "nothing")],
                       capture_output=True, env=ENV, timeout=900, check=True)


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    """Weights, EMA, both optimisers' state, the data position and the schedule survive --resume:
    6 steps straight equal 3 steps, a stop, and a resume to 6 (modern recipe: Muon, warmdown, EMA)."""
    make_corpus(tmp_path)
    common = ["--preset", "mb-test", "--corpus", tmp_path, "--seq-len", 256, "--batch-size", 2, "--threads", 1,
              "--steps", 6, "--warmup", 2, "--eval-every", 100, "--recipe", "modern", "--ema", 0.9]
    straight = train(*common, "--out", tmp_path / "a")
    first = train(*common, "--out", tmp_path / "b", "--stop-after", 3)
    assert first["step"] == 3
    resumed = train(*common, "--out", tmp_path / "b", "--resume")
    assert resumed["step"] == 6 and resumed["weights_sha256"] == straight["weights_sha256"]
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]), "the EMA too"
    assert not all(torch.equal(a["model"][k], a["raw_model"][k]) for k in a["model"])
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *map(str, common), "--out", str(tmp_path / "b"),
                        "--resume", "--muon-lr", "0.5"], capture_output=True, text=True, env=ENV, timeout=900)
    assert r.returncode != 0 and "muon_lr" in r.stderr, "resuming with another schedule is refused"


def json_objects(text: str) -> list[dict]:
    """Every JSON object in `text`: the two ranks share one stdout, so their lines can run together."""
    dec, out, i = json.JSONDecoder(), [], text.find("{")
    while i >= 0:
        try:
            o, end = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(o, dict):
            out.append(o)
        i = text.find("{", end)
    return out


def test_torchrun_with_minutes_stops_every_rank_at_the_same_step_with_the_same_weights(tmp_path):
    """Two ranks (gloo) on a clock budget: rank 0's clock decides the learning rate and the stop
    for both, so the run ends (no rank waits in a collective the other never joins) and the
    replicas end identical."""
    make_corpus(tmp_path)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           os.path.join(ROOT, "train.py"), "--preset", "mb-test", "--corpus", str(tmp_path), "--out", str(tmp_path / "run"),
           "--seq-len", "256", "--batch-size", "2", "--minutes", "0.1", "--threads", "1", "--eval-every", "7",
           "--ckpt-every", "5", "--warmup", "3"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)  # a hang never ends
    except subprocess.TimeoutExpired:
        pytest.fail("the two-rank run with --minutes did not end")
    assert r.returncode == 0, r.stderr[-3000:]
    results = [o for o in json_objects(r.stdout) if "weights_sha256" in o]
    assert len(results) == 2, r.stdout[-2000:]
    assert results[0]["step"] == results[1]["step"] > 5
    assert results[0]["weights_sha256"] == results[1]["weights_sha256"], "the replicas drifted apart"
