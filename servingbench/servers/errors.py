"""What can go wrong with a server, as exceptions whose messages say why and what to do next."""

from __future__ import annotations


class LaunchError(RuntimeError):
    """The server could not be started, reached or stopped cleanly."""


class PortInUse(LaunchError):
    """A port the user asked for is held by another process (named in the message)."""


class ServerDied(LaunchError):
    """The server's process exited while the harness still needed it."""


class NotReady(LaunchError):
    """The server never answered a real prediction within its time limit (the log tail says why)."""
