"""`huitong demo`: the county scenario (samples/county_demo.py), run from the repository."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo", help="the county scenario: the engine, the HIS, public-health and EMR simulators, a day of traffic"
    )
    p.add_argument("--json", action="store_true", help="print the outcome as one JSON object")
    p.add_argument("--work", type=Path, help="work directory, emptied first (default var/demo)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """samples/county_demo.py, which lives beside the cli package in the repository (a sample, not the engine)."""
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from samples.county_demo import main as demo

    return demo([*(["--json"] if args.json else []), *(["--work", str(args.work)] if args.work else [])])
