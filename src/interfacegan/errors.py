"""The one exception type users see: a single line naming the problem and how to fix it."""


class InterfaceGANError(ValueError):
    """Bad input or state the user can fix; the CLI prints it as one line and exits with code 2."""
