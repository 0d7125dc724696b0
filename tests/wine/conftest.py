"""Session fixtures of the Wine tier: the tools built once, one Wine prefix per code page.

Where Wine, mingw-w64 or the ja_JP.UTF-8 locale is missing every test here is skipped with the
reason (``.ci/install-wine`` installs them; CI runs the tier). Prefix creation (``wineboot``) is the
slow part, about 10 s per prefix on a 2-core machine; both are made in parallel, once per session,
under a temporary folder that is removed at the end.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.wine.wine import LANGS, Tools, WinePrefix, build_tools, wine_missing

#: Seconds the session spent building the tools and booting the prefixes (for docs/reliability.md).
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def wine_root() -> Iterator[Path]:
    why = wine_missing()
    if why is not None:
        pytest.skip(why)
    root = Path(tempfile.mkdtemp(prefix="clpbackup-wine-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def wine_tools(wine_root: Path) -> Tools:
    t0 = time.monotonic()
    tools = build_tools(wine_root / "tools")
    TIMINGS["build"] = time.monotonic() - t0
    return tools


@pytest.fixture(scope="session")
def wine_prefixes(wine_root: Path, wine_tools: Tools) -> Iterator[dict[int, WinePrefix]]:
    prefixes = {cp: WinePrefix(wine_root / f"prefix-{cp}", cp, wine_tools) for cp in LANGS}
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(len(prefixes)) as pool:
            list(pool.map(lambda p: p.boot(), prefixes.values()))
        TIMINGS["boot"] = time.monotonic() - t0
        yield prefixes
    finally:
        for p in prefixes.values():
            p.shutdown()


@pytest.fixture
def wine(wine_prefixes: dict[int, WinePrefix]) -> dict[int, WinePrefix]:
    """The prefixes by code page (437, 932)."""
    return wine_prefixes
