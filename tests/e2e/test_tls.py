"""MLLP over TLS, and mutual TLS that turns away a client without a certificate."""

from __future__ import annotations

from pathlib import Path

from tests.support.certs import make_certs
from tests.support.daemon import Daemon, free_port, huitong, write_config


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
