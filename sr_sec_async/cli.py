"""Command line: ``python -m sr_sec_async demo`` (also ``sr-sec-async demo``)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sr-sec-async")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="publish a realistic workload to an embedded local SNS")
    demo.add_argument("--events", type=int, default=1000, help="events to log (default 1000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument(
        "--failover-rounds",
        type=int,
        default=30,
        help="rounds per stage of the primary-outage phase (0 skips it; default 30)",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        try:
            from .demo import run_demo
        except ImportError as exc:  # moto is in the demo extra
            print(f"the demo needs the demo extra: pip install 'sr_sec_async[demo]' ({exc})")
            return 2
        return 0 if run_demo(args.events, args.seed, failover_rounds=args.failover_rounds).ok else 1
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
