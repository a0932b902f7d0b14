import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Random-weight tiny MEGABYTE (3 levels) and plain models, exported to ONNX."""
    from megabyte.model import Megabyte, PRESETS
    from export import export
    out = {}
    for name in ("mb-test", "plain-test"):
        torch.manual_seed(0)
        m = Megabyte(PRESETS[name]).eval()
        d = tmp_path_factory.mktemp(name)
        export(m, d, name)
        out[name] = (m, d)
    return out
