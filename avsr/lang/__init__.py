"""Lexicons, lang directories, n-gram LMs."""
