"""Shared fixtures: store URLs for SQLite and PostgreSQL, the corpus, one log directory for the whole run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import IntegrityError

TESTS = Path(__file__).parent
CORPUS = TESTS / "corpus"
ROOT = TESTS.parent
POSTGRES_URL = os.environ.get("HUITONG_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def run_log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every log of the run lands: $HUITONG_TEST_LOG_DIR when `make test` shares it between the xdist
    workers and the later `after_everything` run, else the session's own temporary directory."""
    shared = os.environ.get("HUITONG_TEST_LOG_DIR")
    return Path(shared) if shared else tmp_path_factory.getbasetemp() / "logs"


@pytest.fixture(scope="session")
def log_dir(run_log_dir: Path) -> Path:
    """This process's logs (daemons and in-process), a folder per xdist worker so two workers never share a file."""
    path = run_log_dir / os.environ.get("PYTEST_XDIST_WORKER", "main")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True, scope="session")
def _log_to_run_dir(log_dir: Path) -> None:
    from engine.runtime.logging import configure

    configure("debug", "json", str(log_dir / "in-process.jsonl"))


def _trigram_extension_in_public(admin: Engine) -> None:
    """pg_trgm, which a store's migration creates in its own schema when the database lacks it: here in public, once,
    so that dropping a test's schema never drops the extension (and every other test's text index with it)."""
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    except IntegrityError:  # another worker created it at the same moment
        pass


def postgres_schema_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("HUITONG_TEST_POSTGRES_URL is not set; .ci/run sets it so CI runs the PostgreSQL path")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    _trigram_extension_in_public(admin)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store on each backend (PostgreSQL: a schema of its own, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like store_url, shared by a module's tests (for a daemon that serves several tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"
    else:
        yield from postgres_schema_url()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `after_everything` read what the whole run produced (its logs), so they run last."""
    items.sort(key=lambda item: item.get_closest_marker("after_everything") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "after_everything: runs after every other test of the session")


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    """A migrated store on each backend, opened as the engine opens it."""
    from engine.store.database import migrate, open_engine

    engine = open_engine(store_url)
    migrate(engine)
    yield engine
    engine.dispose()
