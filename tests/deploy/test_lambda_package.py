"""The Lambda artifact, built for this machine's Python from the installed packages, unzipped and run by a
bare interpreter (`python -I -S`: no venv, no site packages) answering API Gateway events from it alone."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_the_unzipped_artifact_answers_api_gateway_events_alone(tmp_path: Path) -> None:
    artifact = tmp_path / "lambda.zip"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package_lambda.py"), "--local", "--store",
                    "--out", str(artifact)], check=True, timeout=240, capture_output=True)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(artifact) as archive:
        archive.extractall(unpacked)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    bare = getattr(sys, "_base_executable", sys.executable)  # the interpreter under the venv
    result = subprocess.run([bare, "-I", "-S", "-B", str(ROOT / "deploy" / "aws" / "smoke.py"), str(unpacked),
                             str(scratch)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [200, 200, 200, 200]
    assert report["worker_ran"]
    assert report["model_loaded_by_greeting"] is False
    assert report["imported_by_greeting"] == []  # numpy, onnxruntime, tokenizers, the ONNX embedder module
    assert any("peanut" in memory for memory in report["found"])
    assert report["caller_name"] == "Maria"
    assert report["site_packages_outside_artifact"] == []
