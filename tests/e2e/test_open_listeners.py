"""`huitong validate` warns about every listener anyone may use: the console with auth: none, an HTTP source
that takes POSTs without a token. The configuration is still valid (exit 0): the config said so."""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon import huitong, write_config


def test_validate_warns_about_the_console_and_http_sources_open_without_authentication(
    tmp_path: Path, log_dir: Path
) -> None:
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {
            "emr-open": {"source": {"type": "fhir-push", "listen": "127.0.0.1:18101"}},
            "emr-closed": {"source": {"type": "fhir-push", "listen": "127.0.0.1:18102", "auth_token": "t0ken"}},
            "phs-open": {"source": {"type": "xml-http", "mode": "listen", "listen": "127.0.0.1:18103"}},
            "phs-poll": {"source": {"type": "xml-http", "mode": "poll", "url": "http://127.0.0.1:18104/x"}},
        },
        log_dir / "validate-open.jsonl",
        {"console": {"listen": "127.0.0.1:18100", "auth": "none"}},
    )
    done = huitong("validate", "--no-environment", config=config)
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = sorted(line for line in done.stderr.splitlines() if line.startswith("warning: "))
    assert len(warnings) == 3, done.stderr
    assert "console on 127.0.0.1:18100 has auth: none" in warnings[2]
    assert warnings[0].startswith("warning: channel emr-open (") and "fhir-push on 127.0.0.1:18101" in warnings[0]
    assert warnings[1].startswith("warning: channel phs-open (") and "xml-http on 127.0.0.1:18103" in warnings[1]


def test_validate_says_nothing_of_listeners_that_need_a_login_or_token(tmp_path: Path, log_dir: Path) -> None:
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        {"emr": {"source": {"type": "fhir-push", "listen": "127.0.0.1:18102", "auth_token": "t0ken"}}},
        log_dir / "validate-closed.jsonl",
        {"console": {"listen": "127.0.0.1:18100"}},
    )
    done = huitong("validate", "--no-environment", config=config)
    assert done.returncode == 0 and "warning" not in done.stderr, done.stderr
