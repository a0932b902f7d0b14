"""The recipe's model: causality, the KV-cache path, ONNX parity, bad model directories."""
import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
import torch

from megabyte.model import Megabyte, PRESETS, prev_units
from megabyte.symbols import BOS, ONNX, VOCAB_SIZE
from megabyte.checkpoint import verify_model_dir, ModelDirError


@pytest.mark.parametrize("preset", ["mb-test", "plain-test"])
def test_changing_byte_i_never_changes_predictions_at_or_before_i(preset):
    torch.manual_seed(1)
    m = Megabyte(PRESETS[preset]).eval()
    T = 4 * m.cfg.top_unit * 2
    x = torch.randint(0, 256, (1, T))
    with torch.no_grad():
        base = m(x)
        for i in [0, 5, m.cfg.top_unit - 1, m.cfg.top_unit, T // 2 + 3, T - 1]:
            y = x.clone()
            y[0, i] = (y[0, i] + 1) % 256
            out = m(y)
            # logits[t] predicts symbol t from symbols < t: positions <= i must not move
            assert torch.allclose(out[0, : i + 1], base[0, : i + 1], atol=1e-5), f"leak at byte {i}"
            if i + 1 < T:
                assert not torch.allclose(out[0, i + 1:], base[0, i + 1:]), "a change must matter downstream"


def test_global_level_with_kv_cache_equals_full_pass():
    torch.manual_seed(2)
    m = Megabyte(PRESETS["mb-test"]).eval()
    U = m.cfg.top_unit
    x = torch.randint(0, 256, (1, 9 * U))
    lvl = m.levels[0]
    pu = prev_units(x, U)
    with torch.no_grad():
        full, _ = lvl(pu)
        a, past = lvl(pu[:, :4])
        b, past = lvl(pu[:, 4:5], past=past, start=4)
        c, _ = lvl(pu[:, 5:], past=past, start=5)
    assert torch.allclose(torch.cat([a, b, c], 1), full, atol=1e-5)


def _feeds(manifest, level, units, past=None, ctx=None, past_length=None):
    lv = manifest["levels"][level]
    f = {ONNX["input_units"]: units}
    if ctx is not None:
        f[ONNX["input_context"]] = ctx
    for i in range(lv["layers"]):
        for j, key in enumerate(("past_key", "past_value")):
            f[ONNX[key].format(i=i)] = (past[2 * i + j] if past is not None else  # an empty buffer of 1 position
                                        np.zeros((units.shape[0], lv["kv_heads"], 1, lv["head_dim"]), np.float32))
    f[ONNX["past_length"]] = np.array([past_length if past_length is not None else
                                       0 if past is None else past[0].shape[2]], np.int64)
    return f


def onnx_logits(model_dir, symbols: np.ndarray) -> np.ndarray:
    """Runs the exported levels the way the engine's scorer does: global, then each inner level
    over all units at once."""
    manifest = json.loads((model_dir / "manifest.json").read_text())
    sess = [ort.InferenceSession(str(model_dir / f["path"]), providers=["CPUExecutionProvider"]) for f in manifest["files"]]
    ps = manifest["patch_sizes"]
    units = [lv["unit"] for lv in manifest["levels"]]
    x = torch.from_numpy(symbols)[None]
    out = sess[0].run(None, _feeds(manifest, 0, prev_units(x, units[0]).numpy()))[0]
    rows = x
    for l in range(1, len(sess)):
        rows = rows.reshape(-1, units[l - 1])
        ctx = out.reshape(rows.shape[0], ps[l - 1], -1)
        out = sess[l].run(None, _feeds(manifest, l, prev_units(rows, units[l]).numpy(), ctx=ctx))[0]
    return out.reshape(-1, VOCAB_SIZE)


@pytest.mark.parametrize("preset", ["mb-test", "plain-test", "mb-test-modern"])
def test_onnx_logits_match_pytorch(tiny_models, preset):
    m, d = tiny_models[preset]
    U = m.cfg.top_unit
    x = np.concatenate([[BOS], np.frombuffer(b"def f(x):\n    return x + 1\n" * 3, np.uint8)]).astype(np.int64)
    x = np.pad(x, (0, -len(x) % max(U, 1)))
    with torch.no_grad():
        ref = m(torch.from_numpy(x)[None])[0].numpy()
    got = onnx_logits(d, x)
    assert np.abs(got - ref).max() < 1e-4


def _global_level(tiny_models, name="mb-test"):
    """The tiny MEGABYTE's global graph, 7 positions of random units, the one-pass outputs over
    all 7 and the outputs of the first 3 (from no past)."""
    m, d = tiny_models[name]
    manifest = json.loads((d / "manifest.json").read_text())
    s = ort.InferenceSession(str(d / "level0.onnx"), providers=["CPUExecutionProvider"])
    pu = prev_units(torch.randint(0, 256, (1, 7 * m.cfg.top_unit)), m.cfg.top_unit).numpy()
    return manifest, s, pu, s.run(None, _feeds(manifest, 0, pu)), s.run(None, _feeds(manifest, 0, pu[:, :3]))


@pytest.mark.parametrize("preset", ["mb-test", "mb-test-modern"])
def test_onnx_global_step_with_past_matches_one_pass(tiny_models, preset):
    manifest, s, pu, full, a = _global_level(tiny_models, preset)
    assert full[1].shape[2] == 7, "new_key holds the S new positions"
    b = s.run(None, _feeds(manifest, 0, pu[:, 3:4], past=a[1:]))
    past = [np.concatenate([x, y], 2) for x, y in zip(a[1:], b[1:])]
    c = s.run(None, _feeds(manifest, 0, pu[:, 4:], past=past))
    assert np.abs(np.concatenate([a[0], b[0], c[0]], 1) - full[0]).max() < 1e-5
    assert np.abs(np.concatenate([a[1], b[1], c[1]], 2) - full[1]).max() < 1e-5


@pytest.mark.parametrize("preset", ["mb-test", "mb-test-modern"])
def test_onnx_step_reads_past_length_not_the_buffer_length(tiny_models, preset):
    """The engine keeps each cache in a buffer larger than what it holds: positions past
    `past_length` must be ignored, whatever they contain."""
    manifest, s, pu, full, a = _global_level(tiny_models, preset)
    garbage = np.random.default_rng(1)
    buf = [np.concatenate([t, garbage.normal(size=t.shape[:2] + (9, t.shape[3])).astype(np.float32)], 2) for t in a[1:]]
    b = s.run(None, _feeds(manifest, 0, pu[:, 3:], past=buf, past_length=3))  # a chunk
    assert b[1].shape[2] == 4
    assert np.abs(b[0] - full[0][:, 3:]).max() < 1e-5
    assert np.abs(b[1] - full[1][:, :, 3:]).max() < 1e-5
    c = s.run(None, _feeds(manifest, 0, pu[:, 3:4], past=buf, past_length=3))  # one step
    assert np.abs(c[0] - full[0][:, 3:4]).max() < 1e-5
    assert np.abs(c[1] - full[1][:, :, 3:4]).max() < 1e-5


def test_bundled_model_reproduces_the_parity_fixture():
    """The fixture the TypeScript engine is tested against, checked here against onnxruntime."""
    import base64
    from conftest import ROOT
    mdir = ROOT.parent / "mb-small"
    if not (mdir / "fixture.json").exists():
        pytest.skip("no bundled model yet")
    verify_model_dir(mdir)
    fx = json.loads((mdir / "fixture.json").read_text())
    text = base64.b64decode(fx["text_b64"])
    sym = np.concatenate([[BOS], np.frombuffer(text, np.uint8)]).astype(np.int64)
    manifest = json.loads((mdir / "manifest.json").read_text())
    U = manifest["top_unit"]
    logits = onnx_logits(mdir, np.pad(sym, (0, -len(sym) % U)))[: len(sym)]
    lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    bits = (lse - logits[np.arange(len(sym)), sym]) / np.log(2)
    assert np.abs(bits[1:] - np.array(fx["bits"])).max() < 1e-3


@pytest.mark.parametrize("damage", ["truncate", "flip", "missing", "manifest_sha"])
def test_a_damaged_model_dir_gets_an_error_naming_the_file(tiny_models, tmp_path, damage):
    _, d = tiny_models["mb-test"]
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    f = bad / "level1.onnx"
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:1000])
    elif damage == "flip":
        b = bytearray(f.read_bytes())
        b[len(b) // 2] ^= 0xFF
        f.write_bytes(bytes(b))
    elif damage == "missing":
        f.unlink()
    else:
        mf = json.loads((bad / "manifest.json").read_text())
        mf["files"][1]["sha256"] = "0" * 64
        (bad / "manifest.json").write_text(json.dumps(mf))
    with pytest.raises(ModelDirError, match="level1.onnx"):
        verify_model_dir(bad)
    verify_model_dir(d)  # the original is untouched


def test_grown_model_computes_what_the_old_one_did_and_then_learns_in_its_new_blocks():
    from megabyte.model import grow
    torch.manual_seed(0)
    old = Megabyte(PRESETS["mb-test"]).eval()
    cfg, state = grow(old.cfg, old.state_dict(), 0, 2)
    assert cfg.levels[0].layers == old.cfg.levels[0].layers + 2 and old.cfg.levels[0].layers == 1
    new = Megabyte(cfg)
    new.load_state_dict(state)
    new.eval()
    x = torch.randint(0, 256, (2, 64))
    with torch.no_grad():
        assert torch.allclose(old(x), new(x), atol=1e-6), "the new blocks must add nothing at first"
    # ...but they are not dead: a step of training reaches them (their output projections get gradients)
    new.train()
    new.loss(x).backward()
    assert new.levels[0].blocks[2].fc2.weight.grad.abs().sum() > 0
    assert new.levels[0].blocks[2].attn.o.weight.grad.abs().sum() > 0


def test_added_ngram_embeddings_change_nothing_at_first_and_then_learn():
    from megabyte.model import add_ngram
    torch.manual_seed(0)
    old = Megabyte(PRESETS["mb-test"]).eval()
    cfg, state = add_ngram(old.cfg, old.state_dict(), [2, 3])
    assert cfg.ngram_orders == [2, 3] and old.cfg.ngram_orders == []
    new = Megabyte(cfg)
    new.load_state_dict(state)
    new.eval()
    x = torch.randint(0, 256, (2, 64))
    with torch.no_grad():
        assert torch.allclose(old(x), new(x), atol=1e-6), "zero tables must add nothing at first"
    new.train()
    new.loss(x).backward()
    for lvl in new.levels[:-1]:
        assert all(t.weight.grad.abs().sum() > 0 for t in lvl.ngram), "each table learns from its first step"
    with pytest.raises(AssertionError):
        add_ngram(cfg, state, [2])
    # more orders onto a model that has some: its own tables carried over, the new ones zero
    trained = {k: v + 0.01 if ".ngram." in k else v for k, v in state.items()}
    more_cfg, more_state = add_ngram(cfg, trained, [4, 6])
    assert more_cfg.ngram_orders == [2, 3, 4, 6]
    before, after = Megabyte(cfg).eval(), Megabyte(more_cfg).eval()
    before.load_state_dict(trained)
    after.load_state_dict(more_state)
    with torch.no_grad():
        assert torch.allclose(before(x), after(x), atol=1e-6), "old tables kept, new ones add nothing"
    with pytest.raises(AssertionError):
        add_ngram(cfg, state, [7])  # its hash would overflow int64
