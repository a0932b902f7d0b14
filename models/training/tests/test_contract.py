"""The ONNX names and symbols are declared once in Python and once in TypeScript: they must agree."""
import re
from pathlib import Path

from megabyte import symbols

TS = Path(__file__).resolve().parents[3] / "src" / "engine" / "contract.ts"


def test_symbols_and_onnx_names_agree_with_contract_ts():
    ts = TS.read_text()
    for name in ("BOS", "SUF", "PRE", "EOM", "VOCAB_SIZE"):
        m = re.search(rf"export const {name} = (\d+);", ts)
        assert m and int(m.group(1)) == getattr(symbols, name), name
    templates = dict(re.findall(r"^\s+(\w+): '([^']+)',", ts.split("ONNX_TEMPLATES")[1], re.M))
    consts = dict(re.findall(r"^\s+(\w+): '([^']+)',", ts.split("ONNX_TEMPLATES")[0], re.M))
    resolved = {k: consts.get({"input_units": "inputUnits", "input_context": "inputContext", "past_length": "pastLength",
                               "output_context": "outputContext", "output_logits": "outputLogits"}.get(k, ""), v)
                if v.startswith("ONNX.") else v for k, v in templates.items()}
    resolved.update({k: consts[c] for k, c in {"input_units": "inputUnits", "input_context": "inputContext",
                                               "past_length": "pastLength", "output_context": "outputContext",
                                               "output_logits": "outputLogits"}.items()})
    assert resolved == symbols.ONNX
