"""Hypothesis profiles of the reliability tests: ``ci`` (bounded, the default) and ``long``.

``ci`` keeps the whole fuzzing part of ``tests/reliability`` under a minute on a small machine: a
fixed number of examples per test, derandomized so a CI failure reproduces on the next run with the
same inputs (and prints the blob to replay it). ``long`` is for a soak run by hand or on a schedule,
with about 25 times the examples and new random inputs on every run::

    pytest tests/reliability --hypothesis-profile=long
    CLPBACKUP_FUZZ=long pytest -m reliability            # the same, from any directory

(Hypothesis reads ``--hypothesis-profile`` before the test modules are imported: the profiles are
registered by ``tests/reliability/conftest.py`` importing this module, which pytest loads first
when the command names ``tests/reliability``; the environment variable works in every case.)

A test asks for its budget with :func:`fuzz`: the number of examples it runs under ``ci``; under
``long`` it gets :data:`LONG_FACTOR` times that. Profiles are registered on import (idempotent), and
nothing is loaded globally, so importing this module does not change other tests' settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

__all__ = ["LONG_FACTOR", "active_profile", "fuzz"]

#: Examples under ``long`` = this × the ``ci`` count of the test.
LONG_FACTOR = 25

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,  # a shared 2-core CI machine: timing says nothing about correctness here
    derandomize=True,  # the same inputs every run: a failure reproduces, CI time is predictable
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
    # the explain phase re-runs a failing case many times to annotate lines: minutes on a plan
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)
settings.register_profile(
    "long",
    max_examples=100 * LONG_FACTOR,
    deadline=None,
    derandomize=False,  # new inputs on every soak run
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)


def active_profile() -> str:
    """``long`` with ``CLPBACKUP_FUZZ=long`` or ``--hypothesis-profile=long``, else ``ci``."""
    wanted = os.environ.get("CLPBACKUP_FUZZ") or settings.get_current_profile_name()
    return "long" if wanted == "long" else "ci"


def fuzz(ci_examples: int) -> settings:
    """Settings for one property test: ``ci_examples`` examples under ``ci``, ×LONG_FACTOR under
    ``long``."""
    name = active_profile()
    factor = LONG_FACTOR if name == "long" else 1
    return settings(settings.get_profile(name), max_examples=ci_examples * factor)
