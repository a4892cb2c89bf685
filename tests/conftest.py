"""Shared pytest configuration: hypothesis profiles and the BNNQuanalyst anchors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile(
    "default",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=600)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: BNNQuanalyst's models, inputs and queries (read-only; never copied into the project).
ANCHORS = Path(
    os.environ.get(
        "BNNVERIFY_ANCHORS",
        Path(__file__).resolve().parent.parent.parent / "shared" / "anchors" / "bnnquanalyst",
    )
)


@pytest.fixture(scope="session")
def anchors() -> Path:
    if not (ANCHORS / "models").is_dir():
        pytest.skip(f"BNNQuanalyst anchors not found at {ANCHORS}")
    return ANCHORS
