"""Fixtures of the generated route tests."""

from __future__ import annotations

import pytest

from tests.web.matrix import World, build_world


@pytest.fixture
def matrix_world(db_session) -> World:
    """Factory A, the records under it and the eight positions of the scope matrix."""
    return build_world(db_session)
