"""Every silenced check says which rule and why, so that a reviewer can judge it.

    python scripts/check_suppressions.py

Fails (exit 1) on
- a `# noqa` without rule codes, or without a reason after them (`# noqa: S608 - why`);
- a `# type: ignore` without an error code in brackets, or without a reason (`# type: ignore[code]  # why`);
- a ruff ignore in pyproject.toml (`ignore`, `per-file-ignores`) without a comment above it.

Whether the named rule still fires is ruff's RUF100 and mypy's warn_unused_ignores; this only checks the form.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("src", "tests", "bench", "scripts")

NOQA = re.compile(r"#\s*noqa(?P<codes>:\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?(?P<rest>.*)$")
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\])?(?P<rest>.*)$")
REASON = re.compile(r"^\s*(?:-|—|#)\s*\w")


def line_problems(line: str) -> list[str]:
    problems = []
    for pattern, name, example in ((NOQA, "noqa", "# noqa: S608 - why"),
                                   (TYPE_IGNORE, "type: ignore", "# type: ignore[code]  # why")):
        match = pattern.search(line)
        if match and (not match["codes"] or not REASON.match(match["rest"])):
            problems.append(f"`{name}` needs rule codes and a reason, as in `{example}`")
    return problems


def source_problems() -> list[str]:
    problems = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if ".venv" in path.parts or path == Path(__file__).resolve():  # its docstring shows the forms
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                problems += [f"{path.relative_to(ROOT)}:{number}: {p}" for p in line_problems(line)]
    return problems


def pyproject_problems() -> list[str]:
    """Each ruff ignore entry sits under a comment (a block of entries may share one)."""
    problems, section, previous = [], "", ""
    for number, raw in enumerate((ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if line.startswith("["):
            section, previous = line, line
            continue
        is_entry = (section == "[tool.ruff.lint.per-file-ignores]" and "=" in line) or (
            section == "[tool.ruff.lint]" and re.match(r"(extend-)?ignore\s*=", line) is not None)
        if is_entry and not (previous.startswith("#") or previous == "entry"):
            problems.append(f"pyproject.toml:{number}: ruff ignore `{line}` needs a comment above it saying why")
        previous = "entry" if is_entry else line
    return problems


def main() -> int:
    problems = source_problems() + pyproject_problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    print("suppressions: " + (f"{len(problems)} without a reason" if problems else "each has a rule and a reason"),
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
