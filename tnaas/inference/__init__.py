"""Inference over models: automata, patterns, length distributions, the exact completion
lattice, and approximate completion (SMC) for models that are not automata."""
