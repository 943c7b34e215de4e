"""The one exception type that the library raises for bad input."""


class TnaasError(ValueError):
    """Bad input or an impossible request, with a message meant for the user.

    The CLI prints the message on one line and exits with status 2; the app shows it
    with ``st.error``. Subclasses carry extra context but are still ``TnaasError``.
    """


class NotEnoughNovelItems(TnaasError):
    """Fewer distinct new items were found than asked for, within the try budget.

    ``items`` holds what was found, so that no work is lost.
    """

    def __init__(self, message: str, items: list[str]):
        super().__init__(message)
        self.items = items


class UnknownName(TnaasError):
    """A corpus or model name that does not exist; `choices` lists the valid names (the API answers 404)."""

    def __init__(self, message: str, choices: list[str]):
        super().__init__(message)
        self.choices = choices


class TooCostly(TnaasError):
    """A request that would exceed a memory, size or time budget; the message names what to change."""
