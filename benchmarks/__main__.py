"""``python -m benchmarks [SUITE|all] [--quick]``: time the jobs, print the table, write results.json.

Each suite times its contenders side by side in one process and reports
ratios, so a slow or busy machine shifts every figure together. Figures from
suites not run this time are kept from the previous results.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks._timing import fmt_seconds, machine_info

# One suite a line: name -> module.
SUITES = {
    "core": "benchmarks.bench_core",
    "nets": "benchmarks.bench_nets",
    "sgd": "benchmarks.bench_sgd",
    "xray": "benchmarks.bench_xray",
    "sweep": "benchmarks.bench_sweep",
    "app": "benchmarks.bench_app",
    "browser": "benchmarks.bench_browser",
    "hall": "benchmarks.bench_hall",
    "memory": "benchmarks.bench_memory",
}
RESULTS = Path(__file__).with_name("results.json")


def _table(name: str, res: dict[str, Any]) -> str:
    lines = [f"\n== {name} " + "=" * max(0, 70 - len(name))]
    for row in res.get("rows", []):
        value = fmt_seconds(row["seconds"]) if "seconds" in row else f"{row['value']:,.3g} {row.get('unit', '')}"
        lines.append(f"  {row['name']:<66} {value:>12}")
    for r in res.get("ratios", []):
        lines.append(f"  {r['name']:<66} {r['value']:>11,.3g}×")
    for g in res.get("goals", []):
        mark = "PASS" if g["passed"] else "MISS"
        target = f"{g['kind']} {g['target']:g}{g['unit']}"
        lines.append(f"  [{mark}] {g['name']:<59} {g['value']:>11,.3g}{g['unit']}  (goal {target})")
    for key, value in res.get("checks", {}).items():
        lines.append(f"  check {key}: {value}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen suites; return 0 (goals that are missed are reported, not fatal)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default="all", choices=[*SUITES, "all"])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller scaled subsets")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON figures")
    args = parser.parse_args(argv)

    chosen = list(SUITES) if args.suite == "all" else [args.suite]
    previous: dict[str, Any] = {}
    if args.out.exists():
        try:
            previous = json.loads(args.out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
    suites = dict(previous.get("suites", {}))
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info.get('load_average_1min', '?')}; "
          f"numpy {info['numpy']}, torch {info['torch']}, jax {info['jax']}")
    for name in chosen:
        module = importlib.import_module(SUITES[name])
        t0 = time.perf_counter()
        res = module.run(quick=args.quick)
        res["suite_seconds"] = time.perf_counter() - t0
        res["quick"] = args.quick
        res["machine"] = info
        res["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        suites[name] = res
        print(_table(name, res), flush=True)

    all_goals = [(n, g) for n, r in suites.items() for g in r.get("goals", [])]
    print("\n== goals " + "=" * 62)
    for n, g in all_goals:
        print(f"  {'PASS' if g['passed'] else 'MISS'}  {n:<5} {g['name']:<56} {g['value']:>10,.3g}{g['unit']}"
              f"  goal {g['kind']} {g['target']:g}{g['unit']}")
    args.out.write_text(json.dumps({"machine": info, "suites": suites}, indent=2, default=float) + "\n",
                        encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
