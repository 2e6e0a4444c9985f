"""Strategies: they see closed candles and events, and answer with commands; they never place orders."""
