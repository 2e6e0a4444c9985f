"""Loopback fakes of the venues our connectors talk to: each speaks the venue's real wire format on 127.0.0.1,
replays real candles, and injects faults on command (see :mod:`fakes.binance`)."""
