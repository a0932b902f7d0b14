import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Random-weight tiny MEGABYTE (3 levels) and plain models, exported to ONNX; mb-test-modern
    is mb-test with every recipe option (QK-norm, ReLU^2, zero-init, hashed n-gram embeddings of
    orders 2, 3 and 6, the longest hash), its weights then perturbed so no parameter is left at its
    initial value (zero projections, unit gains) and the export has to carry each one."""
    import copy
    import dataclasses
    from megabyte.model import Megabyte, PRESETS
    from export import export
    out = {}
    for name in ("mb-test", "plain-test", "mb-test-modern"):
        torch.manual_seed(0)
        if name == "mb-test-modern":
            cfg = dataclasses.replace(copy.deepcopy(PRESETS["mb-test"]), qk_norm=True, mlp="relu2", zero_init=True,
                                      ngram_orders=[2, 3, 6], ngram_buckets=97)
            m = Megabyte(cfg).eval()
            with torch.no_grad():
                for p in m.parameters():
                    p.add_(torch.randn_like(p) * 0.1)
        else:
            m = Megabyte(PRESETS[name]).eval()
        d = tmp_path_factory.mktemp(name)
        export(m, d, name)
        out[name] = (m, d)
    return out
