"""The one exception type for mistakes a user can make: bad files, shapes that do not fit, unknown options.

Its message is a single plain sentence; the command line prints it and exits with status 2 instead of a
traceback. Programming errors stay ordinary exceptions, so they are never mistaken for user errors.
"""


class PynnError(Exception):
    """A problem the user can fix, described in one sentence."""


class TrainingDiverged(PynnError):
    """The loss became NaN or infinite; the model keeps its last good weights."""
