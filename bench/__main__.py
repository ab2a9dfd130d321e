"""`python -m bench`: run the benchmark, print the table and write the JSON result under bench/results/."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench.report import evaluate_budget, render
from bench.run import FULL, TINY, run

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="a few seconds at tiny size (keeps the script working)")
    parser.add_argument("--out", type=Path, default=None, help="JSON result path (default bench/results/<time>.json)")
    parser.add_argument("--profile", action="store_true", help="also sample the gateway with py-spy")
    parser.add_argument("--no-micro", action="store_true", help="skip the in-process micro-benchmarks")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="load generator on the first CPU, servers on the others (default: scheduler decides)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per measurement")
    parser.add_argument("--seconds", type=float, default=None, help="throughput seconds per target and point")
    parser.add_argument("--requests", type=int, default=None, help="latency requests per target and scenario")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = TINY if args.tiny else FULL
    if args.rounds:
        sizes = replace(sizes, rounds=args.rounds)
    if args.seconds:
        sizes = replace(sizes, throughput_seconds=args.seconds)
    if args.requests:
        sizes = replace(sizes, latency_requests=args.requests)

    def say(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    result = run(sizes, pin=args.pin, profile=args.profile, micro=not args.no_micro, say=say)
    result["budget"] = evaluate_budget(result)
    out = args.out or RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}{'-tiny' if args.tiny else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\nResult: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
