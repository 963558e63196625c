"""Build the Lambda artifact: the `agentic_memory` package (its SQL and ONNX model included) plus its
runtime dependencies, in one zip whose root is what Lambda puts on sys.path.

    python scripts/package_lambda.py                 # for Lambda: Python 3.12, x86_64, manylinux wheels
    python scripts/package_lambda.py --local --out X # from this environment's installed packages (the test)

The Lambda build asks pip for manylinux x86_64 wheels only (`--platform --only-binary=:all:`), so nothing
is compiled here and what is zipped is what runs on Lambda's Amazon Linux. Left out on purpose: the CLI's
server stack (uvicorn, typer, rich), which the Lambda handlers never import. Lambda limits a zip's unpacked
size to 250 MB; the script prints the sizes and fails when that is exceeded (then deploy the container
image defined by deploy/aws/Dockerfile instead).

The zip carries bytecode: Lambda's code folder is read-only, so Python cannot cache what it compiles there,
and without `.pyc` files every cold start compiles each module it imports (here that tripled the time to
the first greeting). It is compiled by an interpreter of the target version (`python3.12` on PATH for the
Lambda build), as unchecked-hash `.pyc` files: valid whatever mtimes the unzipped files get, and the code
of a deployed zip never changes under them.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SERVER_ONLY = {"uvicorn", "typer", "rich", "aiohttp"}  # aiohttp: the memory proxy, which needs `serve`
# Never imported by the handlers, and worth ~75 MB against Lambda's 250 MB (with the libraries' own
# tests, stubs and headers): tokenizers' download stack (we load tokenizer.json from the package, never
# from a hub), phonenumbers' geocoding data (we only parse and format), onnxruntime's model-conversion
# tools, and botocore's API models of the ~400 AWS
# services we do not call.
PRUNED_DISTRIBUTIONS = {"huggingface-hub", "hf-xet", "tqdm", "pyyaml", "fsspec", "filelock"}
PRUNED_PATHS = ("phonenumbers/geodata", "onnxruntime/transformers", "onnxruntime/tools",
                "onnxruntime/quantization", "onnxruntime/datasets")
# onnxruntime's C API library (35 MB) is for programs that link against it; the Python module carries its
# own copy of the runtime (it needs only libc, libstdc++ and friends: `readelf -d`). Dropping it pays for
# the bytecode (~20 MB).
PRUNED_FILES = ("onnxruntime/capi/libonnxruntime.so*",)
BOTOCORE_SERVICES = {"s3", "sqs", "secretsmanager", "sts", "sso", "sso-oidc"}
EXTRAS = ("aws", "postgres")
UNPACKED_LIMIT = 250 * 1024 * 1024
SKIP_DIRS = {"__pycache__", "tests"}


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = list(project["dependencies"])
    for extra in EXTRAS:
        listed += project["optional-dependencies"][extra]
    return [req for req in map(Requirement, listed) if req.name not in SERVER_ONLY]


# The memory proxy's int8 query model (23 MB): the proxy needs `serve`, never Lambda.
SERVER_ONLY_PATHS = ("adapters/embeddings/minilm/int8",)


def copy_project(target: Path) -> None:
    source = ROOT / "src" / "agentic_memory"
    compiled = shutil.ignore_patterns("__pycache__", "*.pyc")

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).relative_to(source)
        return set(compiled(folder, names)) | {n for n in names if (here / n).as_posix() in SERVER_ONLY_PATHS}

    shutil.copytree(source, target / "agentic_memory", ignore=ignore)


def build_for_lambda(target: Path, python_version: str) -> None:
    """pip downloads manylinux x86_64 wheels for `python_version` and unpacks them into `target`."""
    specs = [str(req) for req in requirements()]
    # pip itself, with fixed arguments and this project's pinned requirements.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(target),  # noqa: S603 - a fixed argv of this interpreter's pip, no shell
                    "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64",
                    "--platform", "manylinux_2_28_x86_64", "--implementation", "cp",
                    "--python-version", python_version, "--only-binary=:all:", *specs], check=True)


def _closure(reqs: list[Requirement]) -> list[metadata.Distribution]:
    """The installed distributions `reqs` need, transitively, as pip resolved them for this environment."""
    seen: dict[tuple[str, frozenset[str]], metadata.Distribution] = {}
    todo = [(req.name, frozenset(req.extras)) for req in reqs if req.marker is None or req.marker.evaluate()]
    while todo:
        name, extras = todo.pop()
        key = (name.lower().replace("_", "-"), extras)
        if key in seen:
            continue
        dist = seen[key] = metadata.distribution(name)
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in (extras or {""})):
                todo.append((sub.name, frozenset(sub.extras)))
    return list({id(d): d for d in seen.values()}.values())


def build_from_environment(target: Path) -> None:
    """Copy the files of every needed installed distribution (its RECORD) into `target`."""
    for dist in _closure(requirements()):
        if dist.metadata["Name"].lower() == "agentic-memory":
            continue
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if parts[0] == ".." or SKIP_DIRS & set(parts) or str(file).endswith(".pyc"):
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                destination = target / file
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


def prune(target: Path) -> None:
    for dist_info in target.glob("*.dist-info"):
        name = dist_info.name.split("-", 1)[0].lower().replace("_", "-")
        if name in PRUNED_DISTRIBUTIONS:
            for line in (dist_info / "RECORD").read_text().splitlines():
                path = target / line.split(",", 1)[0]
                if path.is_file() and path.resolve().is_relative_to(target.resolve()):
                    path.unlink()
            shutil.rmtree(dist_info)
    for relative in PRUNED_PATHS:
        shutil.rmtree(target / relative, ignore_errors=True)
    for pattern in PRUNED_FILES:
        for path in target.glob(pattern):
            path.unlink()
    for folder in [p for p in target.rglob("tests") if p.is_dir()]:  # libraries' own test suites
        shutil.rmtree(folder, ignore_errors=True)
    for stub in [*target.rglob("*.pyi"), *target.rglob("*.h")]:  # type stubs and C headers: build-time only
        stub.unlink()
    data = target / "botocore" / "data"
    for service in data.iterdir() if data.is_dir() else []:
        if service.is_dir() and service.name not in BOTOCORE_SERVICES:
            shutil.rmtree(service)
    for folder in sorted((p for p in target.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()


def bytecode_interpreter(python_version: str, *, local: bool, given: str = "") -> str | None:
    """An interpreter of the target version, to compile the bytecode with (None: there is none here)."""
    if local:
        return sys.executable
    found = given or shutil.which(f"python{python_version}")
    if not found:
        return None
    # The interpreter found on PATH (or given), asked for its version: fixed arguments, no shell.
    asked = subprocess.run([found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],  # noqa: S603 - see above
                           check=False, capture_output=True, text=True)
    return found if asked.returncode == 0 and asked.stdout.strip() == python_version else None


def compile_bytecode(target: Path, python: str) -> None:
    # compileall of the target-version interpreter over the staging folder: fixed arguments, no shell.
    subprocess.run([python, "-m", "compileall", "-q", "-j", "2", "--invalidation-mode", "unchecked-hash",  # noqa: S603 - see above
                    str(target)], check=True, stdout=subprocess.DEVNULL)


def tree_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def write_zip(folder: Path, out: Path, *, compress: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method, compresslevel=6 if compress else None) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "tests" not in path.relative_to(folder).parts:
                archive.write(path, path.relative_to(folder).as_posix())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="from this environment, for this machine's Python")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--store", action="store_true", help="no compression (faster; for tests)")
    parser.add_argument("--bytecode-python", default="", help="the interpreter that compiles the bytecode "
                        "(default: python<version> on PATH)")
    args = parser.parse_args()
    name = "local" if args.local else f"py{args.python_version.replace('.', '')}-x86_64"
    out: Path = args.out or ROOT / "build" / "lambda" / f"agentic-memory-lambda-{name}.zip"
    staging = out.with_suffix(".d")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if args.local:
        build_from_environment(staging)
    else:
        build_for_lambda(staging, args.python_version)
    prune(staging)
    copy_project(staging)
    python = bytecode_interpreter(args.python_version, local=args.local, given=args.bytecode_python)
    if python is None:
        print(f"WARNING: no working python{args.python_version} (PATH or --bytecode-python): the zip carries no "
              "bytecode, and every cold start on Lambda compiles what it imports (about 3x slower)",
              file=sys.stderr)
    else:
        compile_bytecode(staging, python)
    unpacked = tree_size(staging)
    write_zip(staging, out, compress=not args.store)
    zipped = out.stat().st_size
    print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {zipped / 2**20:.1f} MB zipped, "
          f"{unpacked / 2**20:.1f} MB unpacked (Lambda's limit: 250 MB unpacked)")
    if os.environ.get("KEEP_STAGING") != "1":
        shutil.rmtree(staging)
    if unpacked > UNPACKED_LIMIT:
        print("too large for a zip: deploy the container image of deploy/aws/Dockerfile", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
