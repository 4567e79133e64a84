"""Goodhart checks: how far an automatic judge agrees with the humans it stands in for."""
