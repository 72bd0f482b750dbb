"""Hardware planner for LLM inference and training: estimate memory, then buy the cheapest hardware that fits."""
__version__ = "0.2.0"
