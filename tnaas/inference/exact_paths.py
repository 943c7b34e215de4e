"""Which exact engine answers an automaton: the one choice, made in one place.

Untempered Kneser-Ney automata (whose every token follows every history) get the backoff
engines (`backoff_lattice`, `backoff_lengths`), which never lay out V edges per node;
everything else (unsmoothed chains, HMMs, tempered or blended automata) the explicit
`Lattice` and `AllPaths`. Both give the same exact answers through the same interface.
"""

from __future__ import annotations

import numpy as np

from tnaas.inference.any_length import AllPaths
from tnaas.inference.backoff import backoff_structure
from tnaas.inference.backoff_lattice import BackoffLattice
from tnaas.inference.backoff_lengths import BackoffAllPaths
from tnaas.inference.lattice import Lattice
from tnaas.inference.patterns import PatternDFA


def make_lattice(
    automaton,
    dfa: PatternDFA,
    end_weight: np.ndarray | None = None,
    backward: bool = True,
    log_end_weight: np.ndarray | None = None,
):
    """The completion lattice of `automaton` under `dfa` (arguments as `Lattice`'s)."""
    structure = backoff_structure(automaton)
    if structure is not None:
        return BackoffLattice(
            automaton, dfa, end_weight, backward=backward, log_end_weight=log_end_weight, structure=structure
        )
    return Lattice(automaton, dfa, end_weight, backward=backward, log_end_weight=log_end_weight)


def make_all_paths(automaton, max_length: int):
    """Length-conditioned passes over `automaton` (`AllPaths`'s interface) up to `max_length` tokens."""
    structure = backoff_structure(automaton)
    if structure is not None:
        return BackoffAllPaths(automaton, max_length, structure=structure)
    return AllPaths(automaton, max_length)
