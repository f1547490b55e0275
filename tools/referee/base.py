"""What a hidden test is made of: trials (inputs for the sandbox, expected values kept here), the two kinds of
test (call a function, read variables), the requirements they enforce, and the helpers verdicts share.

tools/referee/hidden.py and tools/referee/hidden_graph.py build their tests from these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coursekit import feedback
from coursekit.feedback import diagnose

from .plain import Opaque

RANDOM_TRIALS = 20          # random inputs per layer or loss function, on top of the visible example


@dataclass
class Trial:
    """One call of the student's function: ``args`` go to the sandbox, ``expected`` stays here."""

    args: tuple
    about: str                      # the inputs in words (shapes, sizes), for verdicts
    expected: Any = None


@dataclass
class CallTest:
    """Call ``function`` on each trial's arguments and judge what it returns."""

    function: str
    make_trials: Callable[[np.random.Generator], list[Trial]]
    judge: Callable[[Trial, Any, list], str | None]      # (trial, returned, arguments after the call)
    may_change: frozenset = frozenset()          # argument positions the function is meant to change
    define: tuple[str, ...] = ()                 # code the sandbox runs after the notebook, before the calls
    kind: str = field(default="call", init=False)

    @property
    def practised(self) -> tuple[str, ...]:
        return feedback.PRACTISED[self.function]


@dataclass
class ReadTest:
    """Read variables the notebook defines (numbers typed by the student) and judge them."""

    function: str                                 # the answer cell's name, for PRACTISED and messages
    names: tuple[str, ...]
    judge_values: Callable[[dict], str | None]
    kind: str = field(default="read", init=False)

    @property
    def practised(self) -> tuple[str, ...]:
        return feedback.PRACTISED[self.function]


# -- helpers -----------------------------------------------------------------------------------------------------
def _not_plain(name: str, value: Any) -> str | None:
    if isinstance(value, Opaque):
        return f"{name} should be a numpy array of numbers, got {value.type}"
    return None


def _values(name: str, got: Any, expected: np.ndarray, about: str, **kwargs: Any) -> str | None:
    message = _not_plain(name, got) or diagnose(name, got, expected, **kwargs)
    return f"{message} (hidden test: {about})" if message else None


def _sum_against(upstream: np.ndarray, forward: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], float]:
    """L(v) = sum(forward(v) * upstream): its gradient is the backward pass of ``forward`` at ``upstream``."""
    return lambda v: float((forward(v) * upstream).sum())


def _shapes(rng: np.random.Generator, n: int, low: int = 1, high: int = 7) -> list[int]:
    return [int(v) for v in rng.integers(low, high, size=n)]


@dataclass(frozen=True)
class Requirement:
    """One thing the exercise text requires, and the check of this module that enforces it."""

    id: str
    function: str
    text: str
    check: str
