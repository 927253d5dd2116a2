"""Cost of the S3 round trips per delivered package against a moto server: the first pattern vs one PUT.

The first version of include/delivery.py + include/object_store.py spent three requests per package: HEAD
(is it already there?), PUT (with a SHA-256 checksum, SSE), HEAD (read back size + checksum). Since commit
07db9df it is one PUT whose answer carries the checksum S3 verified (HEAD only on a retry or for a store
that answers none). Prints wall time and CPU (client and moto server) per package for both patterns.

    python tools/bench/s3_costs.py [--packages 300] [--size-kib 53]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools" / "bench"))

from airflow_local import start_proc, stop_procs  # noqa: E402
from sampler import _stat  # noqa: E402

from include.form526.delivery.object_store import Encryption, ObjectStore  # noqa: E402
from tools.devservices import free_port  # noqa: E402

BUCKET = "form526-bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--size-kib", type=int, default=53)
    args = parser.parse_args()
    import tempfile

    import boto3

    base = Path(tempfile.mkdtemp(prefix="form526-s3cost-"))
    port = free_port()
    moto = start_proc("moto", [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                      env=dict(os.environ), cwd=base, log_dir=base)
    try:
        time.sleep(2)
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        store = ObjectStore(client, Encryption())
        payloads = [os.urandom(args.size_kib * 1024) for _ in range(args.packages)]
        shas = [hashlib.sha256(p).hexdigest() for p in payloads]

        def today(i: int) -> None:  # the first pattern, spelled out (put_confirmed no longer reads back)
            key = f"today/{i}.zip"
            if not store.matches(BUCKET, key, len(payloads[i]), shas[i]):
                client.put_object(Bucket=BUCKET, Key=key, Body=payloads[i], ContentType="application/zip",
                                  ChecksumAlgorithm="SHA256", Metadata={"sha256": shas[i]},
                                  ServerSideEncryption="AES256")
                assert store.matches(BUCKET, key, len(payloads[i]), shas[i])

        def one_put(i: int) -> None:
            key = f"oneput/{i}.zip"
            want = base64.b64encode(bytes.fromhex(shas[i])).decode()
            r = client.put_object(Bucket=BUCKET, Key=key, Body=payloads[i], ContentType="application/zip",
                                  ChecksumAlgorithm="SHA256", Metadata={"sha256": shas[i]},
                                  ServerSideEncryption="AES256")
            assert r.get("ChecksumSHA256") == want

        out = {}
        for name, fn in (("head_put_head", today), ("one_put", one_put)):
            fn(0)
            moto0 = sum(_stat(moto.popen.pid)[1:])
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for i in range(1, args.packages):
                fn(i)
            n = args.packages - 1
            out[name] = {"wall_ms": round(1000 * (time.perf_counter() - wall0) / n, 2),
                         "client_cpu_ms": round(1000 * (time.process_time() - cpu0) / n, 2),
                         "moto_cpu_ms": round(1000 * (sum(_stat(moto.popen.pid)[1:]) - moto0) / n, 2)}
        out["loadavg"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(out, indent=2))
    finally:
        stop_procs([moto], grace=5)
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
