"""smc-agent: a Smart Money Concepts trading agent whose detectors never look ahead."""

__version__ = "0.1.0"
