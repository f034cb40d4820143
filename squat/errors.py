"""Errors a user can act on: one line saying what happened and what to do."""


class SquatError(Exception):
    """Raised for bad input or missing resources; the CLI prints it as `error: ...`."""


class VideoError(SquatError):
    """The file is not a readable video."""


class WeightsError(SquatError):
    """Weights are missing, corrupt, or do not fit the network."""


class NoLifterError(SquatError):
    """No person was found in the clip."""
