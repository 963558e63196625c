"""The coverage gate of `make check`: per-package branch coverage from coverage's JSON report.

    python scripts/check_coverage.py [coverage.json]

Fails (exit 1) when
- the data was not measured with branch coverage;
- a source file under src/agentic_memory is missing from the report (never imported, or left out);
- the coverage config omits anything (`omit` would hide source files from the numbers);
- a `pragma: no cover` in src/ has no reason on the same line (`# pragma: no cover - why`);
- a package is below its floor (FLOORS). The percentage is coverage's own with branch coverage on:
  (covered lines + covered branches) / (lines + branches), the number `coverage report` prints.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "agentic_memory"

# Package (folder under src/agentic_memory, "" = the whole package) -> minimum percent.
FLOORS = {"domain": 95.0, "services": 95.0, "elevenlabs": 95.0, "": 90.0}

PRAGMA = re.compile(r"#\s*pragma:\s*no\s+cover(?P<rest>.*)$", re.IGNORECASE)
REASON = re.compile(r"^\s*(?:-|—|:|\()\s*\w")


def _relative(name: str) -> str:
    path = Path(name)
    path = path if path.is_absolute() else ROOT / path
    return path.resolve().relative_to(PACKAGE).as_posix()


def package_totals(files: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for rel, summary in files.items():
        top = rel.split("/")[0] if "/" in rel else None
        for key in {"", top} - {None}:
            bucket = totals.setdefault(str(key), dict.fromkeys(
                ("num_statements", "covered_lines", "num_branches", "covered_branches"), 0))
            for field in bucket:
                bucket[field] += summary[field]
    return totals


def percent(bucket: dict[str, int]) -> float:
    total = bucket["num_statements"] + bucket["num_branches"]
    covered = bucket["covered_lines"] + bucket["covered_branches"]
    return 100.0 * covered / total if total else 100.0


def config_problems() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    coverage = config.get("tool", {}).get("coverage", {})
    problems = [f"[tool.coverage.{section}] sets omit = {coverage[section]['omit']!r}: no source file may be left out"
                for section in ("run", "report", "json") if "omit" in coverage.get(section, {})]
    if not coverage.get("run", {}).get("branch"):
        problems.append("[tool.coverage.run] must set branch = true")
    return problems


def pragma_problems() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = PRAGMA.search(line)
            if match and not REASON.match(match["rest"]):
                problems.append(f"{path.relative_to(ROOT)}:{number}: `pragma: no cover` without a reason "
                                "(write `# pragma: no cover - why`)")
    return problems


def main(argv: list[str]) -> int:
    report_path = Path(argv[0]) if argv else ROOT / "coverage.json"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    problems = config_problems() + pragma_problems()
    if not report.get("meta", {}).get("branch_coverage"):
        problems.append(f"{report_path} was measured without branch coverage")
    files = {_relative(name): data["summary"] for name, data in report["files"].items()}
    sources = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")}
    problems += [f"src/agentic_memory/{rel} is missing from the coverage report"
                 for rel in sorted(sources - set(files))]

    totals = package_totals(files)
    print(f"{'package':<28}{'lines':>8}{'branches':>10}{'cover':>8}{'floor':>8}")
    for name in sorted(totals, key=lambda n: (n == "", n)):
        bucket, floor = totals[name], FLOORS.get(name)
        value = percent(bucket)
        label = f"agentic_memory/{name}" if name else "agentic_memory (all)"
        flag = "" if floor is None or value >= floor else "  <- below the floor"
        print(f"{label:<28}{bucket['num_statements']:>8}{bucket['num_branches']:>10}{value:>7.1f}%"
              f"{'' if floor is None else f'{floor:>7.0f}%'}{flag}")
        if floor is not None and value < floor:
            problems.append(f"{label}: {value:.1f}% < {floor:.0f}%")
    problems += [f"agentic_memory/{name}: no files measured" for name in FLOORS if name and name not in totals]

    for problem in problems:
        print(f"coverage gate: {problem}", file=sys.stderr)
    print("coverage gate: " + ("FAILED" if problems else "passed"), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
