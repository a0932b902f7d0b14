"""The training loop: a DDP step over two processes (gloo), resume, the FIM transformation."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from megabyte.data import fim_pack, fim_transform, Corpus
from megabyte.symbols import BOS, SUF, PRE, EOM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_corpus(d):
    files = [b"def f%d(x):\n    return x * %d\n" % (i, i) * 20 for i in range(40)]
    for split in ("train", "heldout"):
        idx, off, raw = [], 0, bytearray()
        for i, data in enumerate(files):
            raw += b"\x00" + data
            idx.append({"package": f"p{i % 3}", "path": f"f{i}.py", "offset": off + 1, "length": len(data)})
            off += 1 + len(data)
        (d / f"{split}.bin").write_bytes(bytes(raw))
        (d / f"{split}.idx").write_text(json.dumps(idx))


def test_fim_puts_suffix_first_and_keeps_every_byte_of_the_middle():
    rng = np.random.default_rng(0)
    text = np.frombuffer(b"line one\nline two\nline three\nline four\n" * 4, np.uint8).astype(np.int64)
    w = np.concatenate([[BOS], text])
    for _ in range(50):
        out = fim_transform(w.copy(), rng)
        if SUF not in out:
            continue
        s, p, e = [int(np.flatnonzero(out == t)[0]) for t in (SUF, PRE, EOM)]
        assert s < p < e
        far, suffix, near_mid = out[1:s], out[s + 1:p], out[p + 1:e]
        rebuilt = np.concatenate([far, near_mid, suffix])
        assert np.array_equal(rebuilt, text[: len(rebuilt)]), "far + near + middle + suffix is the file, in order"


def test_fim_pack_makes_every_file_one_example_of_its_own_bytes_in_order():
    rng = np.random.default_rng(1)
    files = [b"def f(x):\n    return x + %d\n" % i * (3 + i) for i in range(6)] + [b"tiny"]
    w = np.concatenate([np.concatenate([[BOS], np.frombuffer(f, np.uint8).astype(np.int64)]) for f in files])
    for _ in range(30):
        ranges: list = []
        out = fim_pack(w.copy(), rng, weights=ranges)
        assert (out == EOM).sum() == 6, "one example per file of 16 bytes or more"
        assert [out[e - 1] for _, e in ranges] == [EOM] * 6, "each weighted range ends with its EOM"
        assert all(PRE in out[:a] and PRE not in out[a:e] for a, e in ranges), "and lies after its PRE"
        assert (out == BOS).sum() <= 7
        ex = np.split(out, np.flatnonzero(out == EOM) + 1)
        for f, e in zip(files[:6], ex):
            text = np.frombuffer(f, np.uint8).astype(np.int64)
            s, p = int(np.flatnonzero(e == SUF)[0]), int(np.flatnonzero(e == PRE)[0])
            far = e[:s][e[:s] != BOS]
            suffix, near_mid = e[s + 1:p], e[p + 1:-1]
            rebuilt = np.concatenate([far, near_mid, suffix])
            starts = [k for k in range(len(text) - len(rebuilt) + 1) if np.array_equal(text[k:k + len(rebuilt)], rebuilt)]
            assert starts, "far + near + middle + suffix is one contiguous piece of the file"
            if e[0] == BOS:
                assert starts[0] == 0, "BOS only where the example starts at its file's start"
        assert np.array_equal(ex[-1][-4:], np.frombuffer(b"tiny", np.uint8)), "a short file stays plain text"


def test_two_process_ddp_training_step_and_resume(tmp_path):
    make_corpus(tmp_path)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           os.path.join(ROOT, "train.py"), "--preset", "mb-test", "--corpus", str(tmp_path), "--out", str(out),
           "--seq-len", "256", "--batch-size", "2", "--steps", "3", "--threads", "1", "--eval-every", "3",
           "--warmup", "1"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    logs = [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines()]
    assert logs[-1]["step"] == 3 and logs[-1]["bytes"] == 3 * 2 * 2 * 256  # two ranks' bytes counted
    assert "heldout_bpb" in logs[-1]
    # resume continues from the checkpoint's step
    cmd2 = [sys.executable, os.path.join(ROOT, "train.py"), "--preset", "mb-test", "--corpus", str(tmp_path),
            "--out", str(out), "--seq-len", "256", "--batch-size", "2", "--steps", "5", "--threads", "1",
            "--resume", "--eval-every", "5", "--warmup", "1"]  # the same flags (a longer --steps may extend)
    r = subprocess.run(cmd2, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["step"] == 5


def test_init_from_continues_the_weights_and_the_manifest_records_every_segment(tmp_path):
    make_corpus(tmp_path)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    common = ["--preset", "mb-test", "--corpus", str(tmp_path), "--seq-len", "256", "--batch-size", "2",
              "--threads", "1", "--eval-every", "100", "--warmup", "1"]
    first, second = tmp_path / "a", tmp_path / "b"
    for out, extra in ((first, ["--steps", "2"]), (second, ["--steps", "3", "--init-from", str(first / "checkpoint.pt")])):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *common, "--out", str(out), *extra],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    model_dir = tmp_path / "model"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "export.py"), "--checkpoint", str(second / "checkpoint.pt"),
                        "--out", str(model_dir), "--name", "t"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    training = json.loads((model_dir / "manifest.json").read_text())["training"]
    assert [s["steps"] for s in training["segments"]] == [2, 3]
    assert training["steps"] == 5
    assert training["bytes"] == 5 * 2 * 256, "the bytes behind the starting weights keep counting"
    assert training["segments"][1]["init_from"].endswith("checkpoint.pt")


def test_ceiling_times_one_forward_pass_over_the_given_bytes(tmp_path):
    """ceiling.py (the GPU benchmark's PyTorch figure) runs a checkpoint over exactly the bytes it is given."""
    make_corpus(tmp_path)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--preset", "mb-test", "--corpus", str(tmp_path),
                        "--out", str(tmp_path / "a"), "--seq-len", "256", "--batch-size", "2", "--steps", "1",
                        "--threads", "1", "--eval-every", "100", "--warmup", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    data = tmp_path / "bytes.bin"
    data.write_bytes(b"x = 1\n" * 300)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "ceiling.py"), "--checkpoint", str(tmp_path / "a" / "checkpoint.pt"),
                        "--file", str(data), "--device", "cpu", "--repeats", "2", "--threads", "1"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["bytes"] == 1800 and res["positions_top"] == -(-1801 // 16) and len(res["runs_ms"]) == 2
    assert res["ms"] > 0 and res["dtype"] == "bf16"
