"""Backtest results: trade and equity records, the metrics a trader judges them by, and significance tests."""
