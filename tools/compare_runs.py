"""Do two sets of analyses hold the same numbers? The gate of a refactor.

    python tools/compare_runs.py BEFORE AFTER [--ignore-key KEY ...]

BEFORE and AFTER are folders of analysis folders (what `tools/retune.py SET RUNS` writes, one
folder per clip). Every frames.csv and reps.csv is compared byte for byte, every summary.json as
JSON without the keys given (a key a change adds on purpose). Prints each file that differs and
the count; exits 1 if any differ. Typical use: retune a set from kept network passes before and
after a change (`tools/retune.py SET RUNS --cache CACHE`, seconds per set), then compare.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def same_summary(a: Path, b: Path, ignore: set[str]) -> bool:
    one, two = (json.loads(p.read_text()) for p in (a, b))
    return {k: v for k, v in one.items() if k not in ignore} == {k: v for k, v in two.items() if k not in ignore}


def differing(before: Path, after: Path, ignore: set[str]) -> list[str]:
    out = []
    for clip in sorted(p for p in before.iterdir() if (p / "summary.json").is_file()):
        for name in ("frames.csv", "reps.csv", "summary.json"):
            a, b = clip / name, after / clip.name / name
            if not b.is_file():
                out.append(f"{clip.name}/{name} (missing after)")
            elif name == "summary.json" and not same_summary(a, b, ignore):
                out.append(f"{clip.name}/{name}")
            elif name != "summary.json" and a.read_bytes() != b.read_bytes():
                out.append(f"{clip.name}/{name}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--ignore-key", action="append", default=[], help="a summary.json key left out of the comparison")
    a = ap.parse_args(argv)
    found = differing(a.before, a.after, set(a.ignore_key))
    for line in found:
        print(f"differs: {line}")
    clips = sum(1 for p in a.before.iterdir() if (p / "summary.json").is_file())
    print(f"{len(found)} of {3 * clips} files differ")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
