"""kopf's entry point, `kopf run -m sie_operator.handlers`: importing the modules registers the handlers."""

from sie_operator.handlers import lifecycle, replays, scalers, sources

__all__ = ["lifecycle", "replays", "scalers", "sources"]
