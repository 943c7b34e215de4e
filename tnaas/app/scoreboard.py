"""The quiz's running score in one session: the current question and what was answered.

Immutable: each answer or new question returns a new `Scoreboard`, which the page keeps in
the session's state, so one visitor's score never touches another's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Scoreboard:
    """`seed`: the current question's seed (0, 1, 2, …); `guess`: the user's answer to it,
    None until answered; `answered`, `right`, `model_right`: totals over the answered
    questions, for the user and for the model."""

    seed: int = 0
    guess: str | None = None
    answered: int = 0
    right: int = 0
    model_right: int = 0

    def answer(self, guess: str, truth: str, model_guess: str) -> Scoreboard:
        """The score after answering the current question with `guess` (the true source is
        `truth`, the model answered `model_guess`). A second answer to the same question
        (a double click) changes nothing."""
        if self.guess is not None:
            return self
        return replace(
            self,
            guess=guess,
            answered=self.answered + 1,
            right=self.right + (guess == truth),
            model_right=self.model_right + (model_guess == truth),
        )

    def next_question(self) -> Scoreboard:
        """The score with the next question (the next seed), not yet answered."""
        return replace(self, seed=self.seed + 1, guess=None)
