"""`huitong convert` and `huitong test`: the mappings run on one file, or on their test cases."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from cli.common import load


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("convert", parents=[common], help="print the FHIR Bundle the mappings make of one file")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--from", dest="format", choices=["hl7v2", "xml", "fhir"], help="input format (default: sniffed)")
    p.add_argument("--mapping", help="mapping name, e.g. hl7v2/adt (default: the first that takes the message)")
    p.add_argument("--charset", help="codec for HL7 v2 without MSH-18 (default utf-8), e.g. gb18030")
    p.add_argument("--source-system", default="", help="the value of $source_system")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("test", parents=[common], help="run the mapping test cases (mappings/tests)")
    p.add_argument("names", nargs="*", metavar="CHANNEL|MAPPING", help="only the cases of these (default: all)")
    p.set_defaults(func=cmd_test)


def _mappings(args: argparse.Namespace) -> Any:
    """The compiled mappings of the engine.yaml's mappings directory; exits 1 on any error."""
    from engine.config import load_engine_settings
    from engine.config.mappings import load_mappings

    settings, errors = load_engine_settings(args.config)
    if settings is None or errors:
        for error in errors:
            print(error, file=sys.stderr)
        raise SystemExit(1)
    mappings, problems = load_mappings(settings.mappings)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} mapping error(s)", file=sys.stderr)
        raise SystemExit(1)
    return mappings


def cmd_convert(args: argparse.Namespace) -> int:
    from engine.domain.formats.hl7v2 import HL7Error
    from engine.domain.formats.xml import XmlError
    from engine.domain.mapping import MappingError
    from engine.domain.mapping.bundle import to_bundle
    from engine.pipeline.mapping import map_file

    mappings = _mappings(args)
    try:
        data = Path(args.file).read_bytes()
        results = map_file(
            mappings,
            [args.mapping] if args.mapping else None,
            data,
            format=args.format,
            charset=args.charset,
            source_system=args.source_system,
        )
    except OSError as exc:
        print(f"{args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except (MappingError, XmlError, HL7Error) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    bundle = to_bundle(results)
    sys.stdout.write(orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from engine.config import load_engine_settings
    from engine.runtime.mapping_tests import run_cases

    mappings = _mappings(args)
    only: set[str] | None = None
    if args.names:
        only = set()
        for name in args.names:
            if name in mappings.mappings:
                only.add(name)
                continue
            config = load(args)
            spec = config.channels.get(name)
            if spec is None:
                print(f"{name}: neither a mapping nor a channel", file=sys.stderr)
                return 1
            only.update(spec.map or [m for m in mappings.mappings])
    settings, _ = load_engine_settings(args.config)
    assert settings is not None
    results = run_cases(settings.mappings, mappings, only)
    failed = 0
    for result in results:
        rel = os.path.relpath(result.file)
        if result.ok:
            print(f"ok    {rel}")
            continue
        failed += 1
        print(f"FAIL  {rel}")
        for problem in result.problems:
            print("      " + problem.replace("\n", "\n      "))
    print(f"{len(results)} case(s), {failed} failed")
    return 1 if failed or not results else 0
