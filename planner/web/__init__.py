"""`plan serve`: the local web page and its JSON API (see server.py)."""
