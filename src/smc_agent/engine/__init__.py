"""The trading engine: the kernel loop, the risk gate, execution and the portfolio."""
