"""The one exception type users see: a single line naming the problem and how to fix it."""


class InterfaceGANError(ValueError):
    """Bad input or state the user can fix; the CLI prints it as one line and exits with code 2."""


def unreadable_array(exc: BaseException) -> str:
    """Why `np.load(..., allow_pickle=False)` failed, in words that never advise unpickling: numpy reports any file
    that is neither .npy nor .npz (garbage, text, a pickle) as "pickled data" and suggests `allow_pickle=True`."""
    if isinstance(exc, ValueError) and "pickled" in str(exc):
        return "it holds pickled objects or is not a NumPy file at all; interfacegan never unpickles files"
    return f"{type(exc).__name__}: {exc}"
