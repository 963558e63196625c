"""Lambda cold start: the artifact for this machine's Python (`scripts/package_lambda.py --local`), unzipped
and run by a bare interpreter (`python -I -S deploy/aws/smoke.py`), as Lambda runs a new container:
import the handler module, answer the first /client-data event (settings, database, app, Mangum), then
the first /retrieve event (loads the embedding model). Each run is a fresh process and a fresh database;
the first run also compiles the bytecode (Lambda ships none, see docs/deploy-aws.md), the others reuse it.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ZIP = ROOT / "build" / "lambda" / "agentic-memory-lambda-py312-x86_64.zip"


def run(*, runs: int = 5, log: Callable[[str], None] = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agentic-bench-aws-") as tmp:
        artifact = Path(tmp) / "lambda.zip"
        log("   building the local Lambda artifact")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "package_lambda.py"), "--local", "--out",
                        str(artifact)], check=True, capture_output=True, timeout=600)
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(artifact) as archive:
            archive.extractall(unpacked)
            unpacked_mb = sum(i.file_size for i in archive.infolist()) / 2**20
        bare = getattr(sys, "_base_executable", sys.executable)
        samples = []
        for i in range(runs):
            scratch = Path(tmp) / f"scratch{i}"
            scratch.mkdir()
            out = subprocess.run([bare, "-I", "-S", str(ROOT / "deploy" / "aws" / "smoke.py"), str(unpacked),
                                  str(scratch)], check=True, capture_output=True, text=True, timeout=300)
            samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
            log(f"   run {i + 1}: import {samples[-1]['import_ms']} ms, first /client-data "
                f"{samples[-1]['first_client_data_ms']} ms, first /retrieve {samples[-1]['first_retrieve_ms']} ms")
        warm = samples[1:] or samples

        def median(key: str) -> float:
            return round(statistics.median(s[key] for s in warm), 1)

        return {"runs": samples, "import_ms": median("import_ms"),
                "first_client_data_ms": median("first_client_data_ms"),
                "first_retrieve_ms": median("first_retrieve_ms"),
                "greeting_cold_start_ms": round(median("import_ms") + median("first_client_data_ms"), 1),
                "local_zip_mb": round(artifact.stat().st_size / 2**20, 1), "local_unpacked_mb": round(unpacked_mb, 1),
                "lambda_zip_mb": round(LAMBDA_ZIP.stat().st_size / 2**20, 1) if LAMBDA_ZIP.exists() else None}
