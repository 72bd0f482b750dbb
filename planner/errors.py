"""One exception type for bad input: the CLI prints its message on one line and exits 2."""


class InputError(ValueError):
    """A user-facing error: the message names the field and the fix."""
