"""Assemble the training corpus from packages reachable here (Debian, npm, PyPI, the interpreter's
own standard library). Nothing is downloaded at model run time; this script is the only fetcher.

Output (under --out, default .cache/corpus):
  train.bin / heldout.bin   whole files, each preceded by the BOS symbol's marker (see data.py),
                            grouped so the files of one package sit next to each other;
  train.idx / heldout.idx   JSON list of {package, path, offset, length} for every file;
  corpus.json               the corpus list: package, source, version, licence, files, bytes, split.

Held-out split: whole packages (never random lines), listed in HELDOUT.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

# (source, name, version, licence). Versions are pinned so the corpus is reproducible.
PACKAGES: list[tuple[str, str, str, str]] = [
    ("python-stdlib", "cpython", sys.version.split()[0], "PSF-2.0"),
    ("debian", "golang-1.19-src", "1.19.8-2", "BSD-3-Clause"),
    ("debian", "rust-src", "1.63.0+dfsg1-2", "MIT OR Apache-2.0"),
    ("debian", "manpages", "6.03-2", "GPL-2+ and others (man-pages)"),
    ("debian", "manpages-dev", "6.03-2", "GPL-2+ and others (man-pages)"),
    ("debian", "libc6-dev", None, "LGPL-2.1+"),
    ("debian", "lua5.4", None, "MIT"),
    ("npm", "express", "5.3.0", "MIT"),
    ("npm", "lodash", "4.18.1", "MIT"),
    ("npm", "rxjs", "7.8.2", "Apache-2.0"),
    ("npm", "marked", "18.2.1", "MIT"),
    ("npm", "@types/node", "26.6.7", "MIT"),
    ("npm", "date-fns", "4.4.0", "MIT"),
    ("npm", "vue", "3.5.45", "MIT"),
    ("npm", "zod", "4.6.7", "MIT"),
    ("npm", "typescript", "5.9.3", "Apache-2.0"),
    ("pypi", "Sphinx", "9.0.4", "BSD-2-Clause"),
    ("pypi", "click", "8.5.1", "BSD-3-Clause"),
    ("pypi", "flask", "3.1.3", "BSD-3-Clause"),
    ("pypi", "jinja2", "3.1.6", "BSD-3-Clause"),
    ("pypi", "rich", "15.0.0", "MIT"),
    ("pypi", "requests", "2.34.2", "Apache-2.0"),
    ("pypi", "attrs", "26.1.0", "MIT"),
]
# Whole packages kept out of training: Python, TypeScript, JavaScript (typescript.js is a 9 MB
# readable file, the long-context test), prose (reST/Markdown in the sdists).
HELDOUT = {"requests", "attrs", "zod", "typescript"}

TEXT_EXT = {
    ".py", ".pyi", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx", ".jsx", ".vue", ".go",
    ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".lua", ".sh", ".md", ".rst", ".txt", ".json",
    ".toml", ".yaml", ".yml", ".html", ".css", ".s", ".mod", ".cfg", ".ini",
}
MAX_FILE = 16 * 1024 * 1024
BOS_MARK = b"\x00"  # files never hold NUL (binary filter), so a NUL marks a file start on disk


@dataclass
class FileRec:
    package: str
    path: str
    data: bytes


def run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def is_man(path: str) -> bool:
    parts = path.split("/")
    return "man" in parts and (path.endswith(".gz") or path[-2:-1] == "." and path[-1].isdigit())


def keep(path: str, data: bytes) -> bool:
    ext = os.path.splitext(path)[1].lower()
    if ext not in TEXT_EXT and not is_man(path):
        return False
    if not data or len(data) > MAX_FILE or b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    lines = text.count("\n") + 1
    if len(text) / lines > 250:  # minified bundles and data blobs teach nothing about code
        return False
    if ext == ".json" and len(data) > 64 * 1024:
        return False
    return True


def walk_dir(root: Path, package: str) -> list[FileRec]:
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        rel = str(p.relative_to(root))
        if "__pycache__" in rel or "/test/testdata/" in rel:
            continue
        data = p.read_bytes()
        if rel.endswith(".gz") and is_man(rel):
            import gzip
            try:
                data = gzip.decompress(data)
            except OSError:
                continue
            rel = rel[:-3]
        if keep(rel, data):
            out.append(FileRec(package, rel, data))
    return out


def fetch(source: str, name: str, version: str | None, cache: Path) -> tuple[Path, str]:
    """Returns the unpacked directory and the exact version fetched."""
    dl = cache / "dl" / source
    dl.mkdir(parents=True, exist_ok=True)
    safe = name.replace("/", "_").replace("@", "")
    root = cache / "src" / f"{source}-{safe}"
    stamp = root / ".version"
    if stamp.exists():
        return root, stamp.read_text()
    root.mkdir(parents=True, exist_ok=True)
    if source == "python-stdlib":
        got = version
        src = Path(sysconfig.get_paths()["stdlib"])
        for p in src.rglob("*.py"):
            rel = p.relative_to(src)
            if rel.parts[0] in ("site-packages", "test", "idlelib") or "__pycache__" in rel.parts:
                continue
            dst = root / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(p.read_bytes())
    elif source == "debian":
        spec = f"{name}={version}" if version else name
        run(["apt-get", "download", spec], dl)
        deb = sorted(dl.glob(f"{name}_*.deb"))[-1]
        got = deb.name.split("_")[1].replace("%3a", ":")
        run(["dpkg-deb", "-x", str(deb), str(root)], dl)
    elif source == "npm":
        out = subprocess.run(["npm", "pack", f"{name}@{version}", "--silent"], cwd=dl, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(dl / out) as tf:
            tf.extractall(root, filter="data")
        got = version
    elif source == "pypi":
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             f"{name}=={version}", "-d", str(dl)], dl)
        cands = [p for p in dl.iterdir() if p.name.lower().replace("_", "-").startswith(
            f"{name.lower()}-{version}")]
        arc = cands[0]
        if arc.suffix == ".zip":
            with zipfile.ZipFile(arc) as zf:
                zf.extractall(root)
        else:
            with tarfile.open(arc) as tf:
                tf.extractall(root, filter="data")
        got = version
    else:
        raise ValueError(source)
    stamp.write_text(got)
    return root, got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".cache/corpus")
    args = ap.parse_args()
    cache = Path(args.out).resolve()
    seen: set[bytes] = set()
    splits: dict[str, list[FileRec]] = {"train": [], "heldout": []}
    listing = []
    for source, name, version, licence in PACKAGES:
        root, got = fetch(source, name, version, cache)
        split = "heldout" if name in HELDOUT else "train"
        files, nbytes = 0, 0
        for rec in walk_dir(root, name):
            h = hashlib.sha1(rec.data).digest()
            if h in seen:  # exact duplicates (vendored copies, repeated licence files)
                continue
            seen.add(h)
            splits[split].append(rec)
            files += 1
            nbytes += len(rec.data)
        listing.append({"package": name, "source": source, "version": got, "licence": licence,
                        "files": files, "bytes": nbytes, "split": split})
        print(f"{split:8s} {source:13s} {name}@{got}: {files} files, {nbytes/1e6:.1f} MB", flush=True)
    for split, recs in splits.items():
        idx, off = [], 0
        with open(cache / f"{split}.bin", "wb") as f:
            for rec in recs:  # package order is kept: one package's files in a row
                f.write(BOS_MARK)
                f.write(rec.data)
                idx.append({"package": rec.package, "path": rec.path, "offset": off + 1,
                            "length": len(rec.data)})
                off += 1 + len(rec.data)
        (cache / f"{split}.idx").write_text(json.dumps(idx))
    (cache / "corpus.json").write_text(json.dumps(listing, indent=1))
    tot = {s: sum(len(r.data) for r in v) for s, v in splits.items()}
    print(json.dumps({"train_bytes": tot["train"], "heldout_bytes": tot["heldout"]}))


if __name__ == "__main__":
    main()
