"""Path parameter types shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# Bounded so that a huge number is a 422, not a database integer overflow (a 500).
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
