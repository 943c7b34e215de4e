"""The Markov chain: n-gram counts (`ngram`), markovify's chain (`chain`), Kneser-Ney
smoothing (`kneser_ney`), and the model that compiles them (`model`)."""

from tnaas.models.markov.model import MarkovModel

__all__ = ["MarkovModel"]
