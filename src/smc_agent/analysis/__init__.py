"""Analysis across timeframes: streaming higher-timeframe candles, bias, setups and signals."""
