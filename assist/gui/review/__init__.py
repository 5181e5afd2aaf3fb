"""The supervisor's review: the session list and search, one session's replay, corrections."""
