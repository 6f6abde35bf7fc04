"""schemathesis against the management API's OpenAPI document (/api/v1/openapi.json) on a running daemon: no
generated request, valid or not, gets a server error; and on a listener that has no user for the request (no
authentication middleware: ``auth: users`` before anyone logs in), every operation answers 401."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.console.server import Console, county_console
from tests.support.daemon import Daemon, free_port, write_config

EXAMPLES = 200


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console-fuzz")
    with county_console(f"sqlite:///{root / 'store.db'}", root, log_dir / f"console-fuzz-{root.name}.jsonl") as c:
        yield c


def fuzz(**kwargs: Any) -> Any:
    return settings(
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **kwargs,
    )


def test_the_document_describes_every_operations_endpoint(api: Console) -> None:
    described = schemathesis.openapi.from_url(f"{api.base}/api/v1/openapi.json")
    paths = {op.ok().path for op in described.get_all_operations()}
    assert {"/channels", "/channels/{name}/{action}", "/messages", "/messages/{id}/content", "/queues"} <= paths
    assert {"/dead-letters", "/dead-letters/reprocess", "/reload", "/throughput", "/nodes"} <= paths


def test_no_generated_request_gets_a_server_error(api: Console) -> None:
    described = schemathesis.openapi.from_url(f"{api.base}/api/v1/openapi.json")
    cases = st.one_of(described.as_strategy(), described.as_strategy(GenerationMode.NEGATIVE))

    @fuzz(max_examples=EXAMPLES)
    @given(case=cases)
    def request(case: Any) -> None:
        answer = case.call(base_url=f"{api.base}/api/v1")
        case.validate_response(answer, checks=[not_a_server_error])
        assert answer.status_code < 500, answer.text

    request()


def test_without_a_user_every_operation_answers_401(api: Console, tmp_path: Path, log_dir: Path) -> None:
    document = schemathesis.openapi.from_url(f"{api.base}/api/v1/openapi.json")
    port = free_port()
    log = log_dir / f"console-401-{tmp_path.name}.jsonl"
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", {}, log)
    engine = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**engine, "console": {"listen": f"127.0.0.1:{port}", "auth": "users"}}))
    with Daemon(config, ports=(port,)):
        base = f"http://127.0.0.1:{port}/api/v1"

        @fuzz(max_examples=EXAMPLES // 4)
        @given(case=document.as_strategy())
        def request(case: Any) -> None:
            answer = case.call(base_url=base)
            assert answer.status_code == 401, (case.operation.path, answer.status_code)

        request()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/openapi.json")
        assert refused.value.code == 401
