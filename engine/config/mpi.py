"""Load the MPI settings (config/mpi.yaml) and the trained model beside them, or say where they are wrong."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import orjson

from engine.domain.mpi.matcher import Matcher
from engine.domain.mpi.model import Model, ModelMismatch
from engine.domain.mpi.settings import Invalid, Settings, parse

from ._yaml import dotted, read_document
from .errors import WHOLE_FILE, ConfigError

#: The settings shipped with Huitong (config/ of the repository), used when engine.yaml names none.
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "mpi.yaml"


def default_settings(engine_yaml: Path) -> Path:
    """mpi.yaml beside engine.yaml when there is one, else the shipped settings."""
    beside = engine_yaml.parent / "mpi.yaml"
    return beside if beside.is_file() else SHIPPED


def load_settings(file: Path, environ: Mapping[str, str] | None = None) -> tuple[Settings | None, list[ConfigError]]:
    doc = read_document(file, environ or {})
    if doc.errors or not doc.parsed:
        return None, list(doc.errors)
    try:
        return parse(doc.data), []
    except Invalid as exc:
        pos = doc.key_pos(exc.path) if exc.path else doc.value_pos(())
        return None, [ConfigError(file, pos.line, pos.column, dotted(exc.path) or WHOLE_FILE, str(exc))]


def model_path(settings_file: Path, settings: Settings) -> Path:
    return settings_file.parent / settings.model


def load_matcher(file: Path, environ: Mapping[str, str] | None = None) -> tuple[Matcher | None, list[ConfigError]]:
    """The settings and their trained model as one matcher; errors name the settings or the model file."""
    settings, errors = load_settings(file, environ)
    if settings is None:
        return None, errors
    path = model_path(file, settings)
    try:
        model = Model.from_json(orjson.loads(path.read_bytes()), settings)
    except FileNotFoundError:
        message = f"no trained model at {path}: run `huitong mpi train`"
        return None, [ConfigError(file, 1, 1, "model", message)]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ModelMismatch) as exc:
        return None, [ConfigError(path, 1, 1, WHOLE_FILE, f"cannot use the trained model: {exc}")]
    return Matcher(settings, model), []
