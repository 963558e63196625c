"""Lambda cold start: the artifact for this machine's Python (`scripts/package_lambda.py --local`), unzipped
and run by a bare interpreter (`python -I -S -B deploy/aws/smoke.py`), as Lambda runs a new container:
import the handler module, answer the first /client-data event (settings and database, then app, Mangum
and the answer, each timed), then the first /retrieve event (loads the embedding model). Each run is a fresh
process and a fresh database. `-B`: like Lambda's read-only code folder, nothing compiled during a run is
kept for the next, so the bytecode is what the artifact ships (see scripts/package_lambda.py).
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
            out = subprocess.run([bare, "-I", "-S", "-B", str(ROOT / "deploy" / "aws" / "smoke.py"), str(unpacked),
                                  str(scratch)], check=True, capture_output=True, text=True, timeout=300)
            samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
            s = samples[-1]
            log(f"   run {i + 1}: import {s['import_ms']} ms, first /client-data {s['first_client_data_ms']} ms "
                f"(deps {s['deps_ms']} + app and answer {s['app_and_answer_ms']}), first /retrieve "
                f"{s['first_retrieve_ms']} ms")
        warm = samples[1:] or samples  # the first run reads the files from disk

        def median(key: str) -> float:
            return round(statistics.median(s[key] for s in warm), 1)

        return {"runs": samples, "import_ms": median("import_ms"),
                "first_client_data_ms": median("first_client_data_ms"), "deps_ms": median("deps_ms"),
                "app_and_answer_ms": median("app_and_answer_ms"),
                "first_retrieve_ms": median("first_retrieve_ms"),
                "greeting_cold_start_ms": round(median("import_ms") + median("first_client_data_ms"), 1),
                "local_zip_mb": round(artifact.stat().st_size / 2**20, 1), "local_unpacked_mb": round(unpacked_mb, 1),
                "lambda_zip_mb": round(LAMBDA_ZIP.stat().st_size / 2**20, 1) if LAMBDA_ZIP.exists() else None}
