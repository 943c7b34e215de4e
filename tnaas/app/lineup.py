"""The menu of models the Compare page offers, built from the registry.

Each registered model appears with a few settings worth comparing (`GRID`); a model the
grid does not name appears once, with its defaults. Entries are keyed by their label
(`ModelChoice.label`, e.g. "markov k=3 kneser-ney"), which is what the page shows.
"""

from __future__ import annotations

from itertools import product

from tnaas.models import MODELS
from tnaas.tasks.compare import ModelChoice, default_lineup, parse_model_choice

GRID = {
    "markov": {"state_size": (1, 2, 3, 4, 5), "smoothing": ("none", "kneser-ney")},
    "hmm": {"hidden_states": (4, 8, 16, 32)},
}
# Measured on a shared 2-CPU machine: 1.5 s (IKEA), 4 s (Pokémon), 25 s (tech), 46 s (tunes), 60 s (Latin).
SLOW_MODELS = {"lstm": "the LSTM trains for up to a minute per corpus (2 CPUs)"}


def comparison_menu() -> dict[str, ModelChoice]:
    """Every model choice on offer, by label, in registry order (unavailable models included:
    comparing one gives a row that says what to install)."""
    menu = {}
    for name in MODELS:
        grid = GRID.get(name, {})
        for values in product(*grid.values()):
            text = name + ":" + ",".join(f"{k}={v}" for k, v in zip(grid, values)) if grid else name
            choice = parse_model_choice(text)
            menu[choice.label] = choice
    return menu


def default_labels(menu: dict[str, ModelChoice]) -> list[str]:
    """The labels of `tnaas.tasks.compare.default_lineup()` (available models only) found in `menu`."""
    return [choice.label for choice in default_lineup() if choice.label in menu]


def slow_warnings(choices) -> list[str]:
    """One sentence per slow model among `choices` (e.g. the LSTM's training time)."""
    names = dict.fromkeys(choice.name for choice in choices)
    return [SLOW_MODELS[name] for name in names if name in SLOW_MODELS]
