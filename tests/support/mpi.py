"""The MPI as shipped (config/mpi.yaml and its trained model), for tests that write the record directly."""

from __future__ import annotations

from functools import cache

from engine.config.mpi import SHIPPED, load_matcher
from engine.pipeline.mpi import MpiResolver


@cache
def shipped_resolver() -> MpiResolver:
    matcher, errors = load_matcher(SHIPPED)
    assert matcher is not None, errors
    return MpiResolver(matcher)
