"""Domain vocabulary shared by every layer: closed sets as enums."""

from smc_agent.model.enums import ConfidenceLevel, Direction, Side

__all__ = ["ConfidenceLevel", "Direction", "Side"]
