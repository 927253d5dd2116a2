"""The backlog's evidence pool: a few hundred distinct files, reused across uploads, and a read-only S3 over it.

A backlog-sized run cannot keep one object per upload in an in-memory S3 server (150,000 failed submissions
have ~120,000 uploads). Instead every upload's object is *derived* from its key: the file kind from the
file name's extension, the pool file from ``sha256(seed:guid)``, and about one key in ``MISSING_EVERY`` is
missing (404), as in ``evidence.put_evidence``. ``PoolServer`` answers S3 GetObject/HeadObject for every
``disability_compensation_supporting_form/<guid>/<filename>`` key that way, holding only the pool in memory;
``floor.py`` converts the same files from local copies (``write_pool``).

Pool mix (``POOL_COUNTS``, ``pool_spec``): PDF 132 (scans: one grey JPEG per page), JPEG 72 (photos),
PNG 24 (screenshots: flat background, a noisy region), TXT 12. Target sizes: log-normal, median 100 KB,
sigma 1.0, clipped to 50 KB..5 MB (text 2..40 KB). Images and text land within ~10% of their target, PDFs
~30% above it (page overhead): 45 MB in all for seed 42, median ~95 KB, mean ~190 KB.

    python -m tools.synthetic.pool write --dir /tmp/pool [--seed 42]
    python -m tools.synthetic.pool serve --dir /tmp/pool --port 9100 --bucket evidence [--seed 42]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import random
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tools.synthetic.evidence import MISSING_EVERY, STORE_DIR

POOL_VERSION = 1
POOL_COUNTS: dict[str, int] = {"pdf": 132, "jpg": 72, "png": 24, "txt": 12}
MEDIAN_BYTES, SIGMA = 100_000, 1.0
MIN_BYTES, MAX_BYTES = 50_000, 5_000_000
TEXT_BYTES = (2_000, 40_000)
CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "txt": "text/plain"}
_EXT_KIND = {"pdf": "pdf", "jpg": "jpg", "jpeg": "jpg", "png": "png", "txt": "txt"}
MANIFEST = "pool.json"


@dataclass(frozen=True)
class PoolFile:
    """One pool file: its kind, index within the kind, target size (bytes) and, once written, real size."""

    kind: str
    index: int
    target: int
    size: int = 0
    md5: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.index:03d}.{self.kind}"


def pool_spec(seed: int = 42, counts: dict[str, int] | None = None) -> dict[str, list[PoolFile]]:
    """Kinds and target sizes of the pool, without generating any content (cheap, deterministic).

    ``counts`` (files per kind, default ``POOL_COUNTS``) exists for tests: a smaller pool maps the same keys
    to files of the same kinds (and the same keys are missing).
    """
    rng = random.Random(f"{seed}:pool-spec")
    spec: dict[str, list[PoolFile]] = {}
    for kind, count in (counts or POOL_COUNTS).items():
        files = []
        for i in range(count):
            if kind == "txt":
                target = rng.randint(*TEXT_BYTES)
            else:
                target = int(min(MAX_BYTES, max(MIN_BYTES, rng.lognormvariate(math.log(MEDIAN_BYTES), SIGMA))))
            files.append(PoolFile(kind, i, target))
        spec[kind] = files
    return spec


def kind_of_name(filename: str) -> str | None:
    """Content kind of a backlog upload from its file name (backlog names always match their content)."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return _EXT_KIND.get(ext)


def rank_of(seed: int, guid: str) -> int:
    """A stable 64-bit number per upload guid (the same rule as ``evidence.put_evidence``)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{guid.lower()}".encode()).digest()[:8], "big")


def choose(spec: dict[str, list[PoolFile]], seed: int, guid: str, filename: str) -> PoolFile | None:
    """The pool file behind an upload, or None when its object is missing on purpose (or of no pool kind)."""
    kind = kind_of_name(filename)
    rank = rank_of(seed, guid)
    if kind is None or rank % MISSING_EVERY == 0:
        return None
    files = spec[kind]
    return files[(rank // MISSING_EVERY) % len(files)]


# ---------------------------------------------------------------------------------------------- content


def _calibrated(make, target: int, side: int) -> bytes:
    """``make(side)`` twice: once to measure bytes per side², once at the side that should hit ``target``."""
    first = make(side)
    side2 = max(16, int(side * math.sqrt(target / max(1, len(first)))))
    return make(side2)


def _jpeg(rng: random.Random, target: int, mode: str, aspect: float = 0.75) -> bytes:
    from PIL import Image

    seed_bytes = rng.randbytes(16)
    tint = tuple(rng.randrange(90, 256) for _ in range(3))

    def make(side: int) -> bytes:
        w, h = side, max(16, int(side * aspect))
        noise = random.Random(seed_bytes).randbytes(w * h * (3 if mode == "RGB" else 1))
        img = Image.frombytes(mode, (w, h), noise)
        if mode == "RGB":
            img = Image.blend(img, Image.new("RGB", (w, h), tint), 0.35)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=75)
        return buf.getvalue()

    return _calibrated(make, target, 400)


def _png(rng: random.Random, target: int) -> bytes:
    from PIL import Image, ImageDraw

    w, h = rng.choice(((1280, 800), (1440, 900), (1920, 1080)))
    background = tuple(rng.randrange(200, 256) for _ in range(3))
    seed_bytes = rng.randbytes(16)

    def make(side: int) -> bytes:
        img = Image.new("RGB", (max(w, side), max(h, side)), background)
        draw = ImageDraw.Draw(img)
        for i in range(12):
            draw.rectangle((20, 20 + 40 * i, 600, 44 + 40 * i), fill=(40, 40, 40))
        noise = Image.frombytes("RGB", (side, side), random.Random(seed_bytes).randbytes(side * side * 3))
        img.paste(noise, (img.width - side, img.height - side))
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=6)
        return buf.getvalue()

    return _calibrated(make, target, 200)


def _pdf(rng: random.Random, target: int, index: int) -> bytes:
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    pages = max(1, min(40, round(target / 90_000)))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=letter, invariant=1)
    for page in range(pages):  # a distinct image per page: reportlab stores identical images once
        page_jpeg = _jpeg(rng, max(8_000, target // pages), "L", aspect=1.29)
        pdf.drawImage(ImageReader(io.BytesIO(page_jpeg)), 36, 36, width=540, height=720)
        pdf.drawString(40, 20, f"Scanned record {index}, page {page + 1} of {pages} (synthetic)")
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _txt(rng: random.Random, target: int, index: int) -> bytes:
    words = ("pain", "knee", "ringing", "after", "deployment", "treated", "clinic", "follow-up", "weeks",
             "reports", "constant", "stiffness", "morning", "profile", "issued", "symptoms", "continued")
    lines = [f"Statement in support of claim (synthetic) #{index}", ""]
    size = sum(len(x) + 1 for x in lines)
    while size < target:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(6, 14))).capitalize() + "."
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def make_file(seed: int, pf: PoolFile) -> bytes:
    """The content of one pool file (deterministic by seed, kind and index)."""
    rng = random.Random(f"{seed}:pool:{pf.kind}:{pf.index}")
    if pf.kind == "pdf":
        return _pdf(rng, pf.target, pf.index)
    if pf.kind == "jpg":
        return _jpeg(rng, pf.target, "RGB")
    if pf.kind == "png":
        return _png(rng, pf.target)
    return _txt(rng, pf.target, pf.index)


def write_pool(directory: Path, seed: int = 42, counts: dict[str, int] | None = None) -> dict[str, list[PoolFile]]:
    """Write the pool files and ``pool.json`` into ``directory`` (kept and reused when already complete)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / MANIFEST
    counts = dict(counts or POOL_COUNTS)
    if manifest.exists():
        done = json.loads(manifest.read_text())
        if (done.get("seed"), done.get("version"), done.get("counts")) == (seed, POOL_VERSION, counts):
            return {k: [PoolFile(**f) for f in files] for k, files in done["files"].items()}
    out: dict[str, list[PoolFile]] = {}
    for kind, files in pool_spec(seed, counts).items():
        out[kind] = []
        for pf in files:
            body = make_file(seed, pf)
            (directory / pf.name).write_bytes(body)
            out[kind].append(PoolFile(pf.kind, pf.index, pf.target, len(body), hashlib.md5(body).hexdigest()))
    manifest.write_text(json.dumps({"seed": seed, "version": POOL_VERSION, "counts": counts, **pool_stats(out),
                                    "files": {k: [asdict(f) for f in v] for k, v in out.items()}}, indent=1))
    return out


def pool_stats(pool: dict[str, list[PoolFile]]) -> dict[str, object]:
    """Counts and bytes of a written pool, per kind and in all."""
    sizes = {k: [f.size or f.target for f in v] for k, v in pool.items()}
    every = sorted(s for v in sizes.values() for s in v)
    return {"files": len(every), "total_bytes": sum(every), "mean_bytes": round(sum(every) / max(1, len(every))),
            "median_bytes": every[len(every) // 2] if every else 0,
            "per_kind": {k: {"files": len(v), "mean_bytes": round(sum(v) / max(1, len(v))), "max_bytes": max(v)}
                         for k, v in sizes.items()}}


def load_pool(directory: Path) -> tuple[int, dict[str, list[PoolFile]], dict[str, bytes]]:
    """(seed, pool files, content by file name) of a pool written by ``write_pool``."""
    done = json.loads((directory / MANIFEST).read_text())
    pool = {k: [PoolFile(**f) for f in files] for k, files in done["files"].items()}
    bodies = {f.name: (directory / f.name).read_bytes() for files in pool.values() for f in files}
    return int(done["seed"]), pool, bodies


# ---------------------------------------------------------------------------------------------- S3 stand-in


class PoolServer(ThreadingHTTPServer):
    """Read-only S3 (path-style GetObject / HeadObject / HeadBucket) whose objects come from the pool.

    ``GET /_pool/stats`` answers the request and byte counters as JSON.
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], directory: Path, bucket: str) -> None:
        self.seed, self.pool, self.bodies = load_pool(directory)
        self.bucket = bucket
        self.lock = threading.Lock()
        self.stats = {"get": 0, "head": 0, "not_found": 0, "bytes_sent": 0}
        super().__init__(address, _Handler)

    def lookup(self, key: str) -> PoolFile | None:
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != STORE_DIR:
            return None
        return choose(self.pool, self.seed, parts[1], parts[2])

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.stats[name] += n


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: PoolServer

    def log_message(self, format: str, *args: object) -> None:  # no access log: keys hold guids
        return

    def _send(self, status: int, body: bytes, headers: dict[str, str], head: bool) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status: int, code: str, head: bool) -> None:
        body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
        self._send(status, body.encode(), {"Content-Type": "application/xml"}, head)

    def _object(self, head: bool) -> None:
        path = urlsplit(self.path).path
        if path == "/_pool/stats":
            with self.server.lock:
                body = json.dumps(self.server.stats).encode()
            self._send(200, body, {"Content-Type": "application/json"}, head)
            return
        bucket, _, key = unquote(path).lstrip("/").partition("/")
        if bucket != self.server.bucket:
            self._error(404, "NoSuchBucket", head)
            return
        if not key:
            self._send(200, b"", {}, head)  # HeadBucket
            return
        pf = self.server.lookup(key)
        if pf is None:
            self.server.count("not_found")
            self._error(404, "NoSuchKey", head)
            return
        body = self.server.bodies[pf.name]
        self.server.count("head" if head else "get")
        if not head:
            self.server.count("bytes_sent", len(body))
        self._send(200, body, {"Content-Type": CONTENT_TYPES[pf.kind], "ETag": f'"{pf.md5}"',
                               "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT", "Accept-Ranges": "bytes"}, head)

    def do_GET(self) -> None:
        self._object(head=False)

    def do_HEAD(self) -> None:
        self._object(head=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``write`` the pool into a directory, or ``serve`` it as a read-only S3 endpoint."""
    parser = argparse.ArgumentParser(prog="python -m tools.synthetic.pool", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_write = sub.add_parser("write")
    p_serve = sub.add_parser("serve")
    for p in (p_write, p_serve):
        p.add_argument("--dir", type=Path, required=True)
        p.add_argument("--seed", type=int, default=42)
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, required=True)
    p_serve.add_argument("--bucket", required=True)
    args = parser.parse_args(argv)
    pool = write_pool(args.dir, args.seed)
    if args.command == "write":
        print(json.dumps(pool_stats(pool)))
        return 0
    server = PoolServer((args.host, args.port), args.dir, args.bucket)
    print(f"serving the evidence pool on {args.host}:{args.port}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
