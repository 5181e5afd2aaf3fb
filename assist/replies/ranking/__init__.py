"""Ranking the replies shown for a customer turn: KB hits worded as replies, and candidates (KB and macros) ranked together."""
