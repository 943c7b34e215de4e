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
