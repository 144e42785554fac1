"""Run every benchmark in bench/ and print their figures as one table.

Each `bench/<name>.py` (except this file and `_*.py` helpers) runs as its own process
with the project's virtualenv Python, from the repository root, with `--quick` when the
environment variable QUICK is non-empty (`make bench QUICK=1`). A benchmark reports by
printing JSON objects, one a line, with the keys in `REQUIRED_KEYS` (see bench/README.md);
its other output is passed through to stderr so the table on stdout stays clean.

Exit status: 0 when every benchmark exited 0, else 1 (the table is printed either way).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
REQUIRED_KEYS = ("bench", "metric", "value", "floor", "ratio", "unit")
COLUMNS = REQUIRED_KEYS


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def benchmarks() -> list[Path]:
    me = Path(__file__).resolve()
    return sorted(
        p for p in BENCH_DIR.glob("*.py") if p.resolve() != me and not p.name.startswith("_")
    )


def parse_line(line: str) -> dict[str, Any] | None:
    """The row a line reports, or None when it is not a JSON object with every key."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        row = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict) or any(key not in row for key in REQUIRED_KEYS):
        return None
    return row


def run(path: Path, *, quick: bool) -> tuple[list[dict[str, Any]], int]:
    cmd = [python(), str(path)] + (["--quick"] if quick else [])
    print(f"# {path.name}{' --quick' if quick else ''}", file=sys.stderr, flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1)
    rows: list[dict[str, Any]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        row = parse_line(line)
        if row is None:
            sys.stderr.write(line)
        else:
            rows.append(row)
    return rows, proc.wait()


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(rows: list[dict[str, Any]]) -> str:
    cells = [list(COLUMNS)] + [[fmt(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    quick = bool(os.environ.get("QUICK", ""))
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for path in benchmarks():
        found, code = run(path, quick=quick)
        rows.extend(found)
        if code != 0:
            failed.append(f"{path.name} (exit {code})")
        elif not found:
            failed.append(f"{path.name} (reported no figures)")
    print(table(rows))
    if not benchmarks():
        print("no benchmarks yet")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
