"""Market data feeds: where closed candles come from (a file replay today; exchanges later)."""
