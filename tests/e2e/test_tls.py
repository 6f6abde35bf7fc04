"""MLLP over TLS, and mutual TLS that turns away a client without a certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

from engine.connectors.mllp.client import exchange
from tests.support.certs import make_certs
from tests.support.daemon import Daemon, free_port, huitong, wait_until, write_config
from tests.support.messages import adt
from tests.support.mllp_peer import MllpPeer


def test_mutual_tls_accepts_a_client_with_a_certificate_and_refuses_one_without(tmp_path: Path, log_dir: Path) -> None:
    certs = make_certs(tmp_path)
    port = free_port()
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {
            "secure": {
                "source": {
                    "type": "mllp",
                    "listen": f"127.0.0.1:{port}",
                    "tls": {
                        "cert_file": str(certs.server_cert),
                        "key_file": str(certs.server_key),
                        "ca_file": str(certs.ca),
                        "client_auth": "required",
                    },
                }
            },
        },
        log_dir / "tls.jsonl",
    )
    message = tmp_path / "m.hl7"
    message.write_bytes(b"MSH|^~\\&|A|B|C|D|20260101||ADT^A04|TLS0001|P|2.5\rPID|1||1^^^H^MR\r")
    with Daemon(config, ports=(port,)):
        ok = huitong(
            "send",
            str(message),
            "--to",
            f"127.0.0.1:{port}",
            "--tls",
            "--ca",
            str(certs.ca),
            "--cert",
            str(certs.client_cert),
            "--key",
            str(certs.client_key),
        )
        refused = huitong("send", str(message), "--to", f"127.0.0.1:{port}", "--tls", "--ca", str(certs.ca))
        plain = huitong("send", str(message), "--to", f"127.0.0.1:{port}")
    assert ok.returncode == 0 and ok.stdout.startswith("AA"), ok.stdout + ok.stderr
    assert refused.returncode == 2 and "cannot talk to" in refused.stderr
    assert plain.returncode == 2


def test_an_mllp_destination_delivers_over_tls_and_verifies_the_peer(tmp_path: Path, log_dir: Path) -> None:
    certs = make_certs(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(certs.server_cert, certs.server_key)
    port = free_port()
    with MllpPeer(ssl=server_side) as peer:
        config = write_config(
            tmp_path,
            f"sqlite:///{tmp_path / 'store.db'}",
            {
                "to-tls": {
                    "source": {"type": "mllp", "listen": f"127.0.0.1:{port}"},
                    "destinations": [
                        {
                            "name": "secure",
                            "type": "mllp",
                            "target": f"127.0.0.1:{peer.port}",
                            "tls": {"ca_file": str(certs.ca)},
                        },
                    ],
                }
            },
            log_dir / "tls-destination.jsonl",
        )
        message = adt("TLSOUT1")
        with Daemon(config, ports=(port,)):
            assert b"MSA|AA|" in next(exchange("127.0.0.1", port, [message]))
            wait_until(lambda: peer.received, timeout=20)
    assert peer.received == [message]
