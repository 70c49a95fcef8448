"""User-facing errors.

Every error a user can cause or fix (a bad file, a busy port, a missing adapter) is a
:class:`PlantarError`. Its message is one line that says what is wrong and what to do.
The CLI prints it as ``plantar: error: <message>`` and exits with :attr:`exit_code`,
never with a traceback.
"""


class PlantarError(Exception):
    """An error the user can act on; ``str(err)`` is one line."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ConfigError(PlantarError):
    """A configuration, layout or calibration file is invalid."""


class DeviceError(PlantarError):
    """A device (insole, port, adapter) cannot be used."""

    exit_code = 3
