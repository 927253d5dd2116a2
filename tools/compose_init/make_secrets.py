"""Write ``.env`` for docker-compose.yaml: ``.env.example`` with every ``CHANGE_ME`` replaced by a fresh secret.

    make secrets                     # or: python3 tools/compose_init/make_secrets.py
    make secrets FORCE=1             # replace an existing .env (its secrets are lost)

Standard library only (runs with any Python 3.9+, no virtualenv). The file is created with mode 0600 and
an existing one is never overwritten without ``--force``. No value is printed.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

PLACEHOLDER = "CHANGE_ME"
ROOT = Path(__file__).resolve().parents[2]


def _password() -> str:
    # hex: safe in connection URLs and JSON, and 32 characters fit MinIO's 8-40 limit on secret keys
    return secrets.token_hex(16)


def _long_secret() -> str:
    return secrets.token_hex(32)


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _minio_kms_key() -> str:
    # MinIO's MINIO_KMS_SECRET_KEY: <key name>:<base64 of 32 bytes>
    return "form526-key:" + base64.b64encode(secrets.token_bytes(32)).decode()


GENERATORS: dict[str, Callable[[], str]] = {
    "AIRFLOW_FERNET_KEY": _fernet_key,
    "AIRFLOW_JWT_SECRET": _long_secret,
    "AIRFLOW_API_SECRET_KEY": _long_secret,
    "MINIO_KMS_SECRET_KEY": _minio_kms_key,
}
"""Secrets with a format of their own; every other placeholder gets a password."""

_ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


def render(template: str, *, uid: int | None = None) -> tuple[str, list[str]]:
    """The template with each ``NAME=CHANGE_ME`` line given a fresh value (and ``AIRFLOW_UID`` set to ``uid``
    when given); returns the text and the names generated."""
    out, generated = [], []
    for line in template.splitlines(keepends=True):
        m = _ASSIGNMENT.match(line.rstrip("\r\n"))
        if m and m["value"].strip() == PLACEHOLDER:
            value = GENERATORS.get(m["name"], _password)()
            line = f"{m['name']}={value}\n"
            generated.append(m["name"])
        elif m and m["name"] == "AIRFLOW_UID" and uid is not None:
            line = f"AIRFLOW_UID={uid}\n"
        out.append(line)
    return "".join(out), generated


def write_private(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` readable by its owner only; refuse an existing file unless ``force``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an existing file (--force) keeps its mode otherwise
    with os.fdopen(fd, "w") as f:
        f.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=ROOT / ".env.example")
    parser.add_argument("--out", type=Path, default=ROOT / ".env")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)

    # On Linux the containers should write files as you (docs/deploy.md); root keeps the image's user.
    uid = os.getuid() if sys.platform.startswith("linux") and os.getuid() != 0 else None
    text, generated = render(args.template.read_text(), uid=uid)
    try:
        write_private(args.out, text, force=args.force)
    except FileExistsError:
        print(f"{args.out} exists: not overwritten (make secrets FORCE=1 replaces it and its secrets)",
              file=sys.stderr)
        return 1
    print(f"{args.out}: {len(generated)} secrets generated ({', '.join(generated)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
