"""`huitong send`: HL7 v2 files over MLLP, each ACK printed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("send", parents=[common], help="send HL7 v2 files over MLLP and print each ACK")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--to", required=True, type=_host_port, metavar="HOST:PORT")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--ca", help="CA bundle that signs the server certificate")
    p.add_argument("--cert", help="client certificate (mutual TLS)")
    p.add_argument("--key", help="private key of --cert")
    p.add_argument("--insecure", action="store_true", help="do not verify the server certificate")
    p.add_argument("--whole", action="store_true", help="send each file as one frame, even a batch")
    p.set_defaults(func=cmd_send)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. 127.0.0.1:2575, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def cmd_send(args: argparse.Namespace) -> int:
    import ssl

    from engine.connectors.mllp.client import exchange
    from engine.domain.formats.hl7v2 import BatchError, read_ack, split_messages

    host, port = args.to
    context = None
    if args.tls:
        context = ssl.create_default_context(cafile=args.ca)
        if args.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if args.cert:
            context.load_cert_chain(args.cert, args.key)
    payloads: list[tuple[str, bytes]] = []
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:  # nothing is sent when one file cannot be read: say which, before connecting
            print(f"cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        try:
            parts = [data] if args.whole else split_messages(data)
        except BatchError:
            parts = [data]  # let the receiver judge it
        payloads.extend((name, part) for part in parts)
    worst = 0
    try:
        for (name, _), answer in zip(
            payloads, exchange(host, port, (p for _, p in payloads), ssl_context=context), strict=False
        ):
            ack = read_ack(answer)
            line = f"{ack.code or '??'}  {name}  {ack.control_id}"
            if ack.text:
                line += f"  {ack.text}"
            print(line)
            if ack.code not in ("AA", "CA"):
                worst = 1
    except OSError as exc:
        print(f"cannot talk to {host}:{port}: {exc}", file=sys.stderr)
        return 2
    return worst
