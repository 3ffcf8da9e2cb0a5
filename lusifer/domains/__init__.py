"""Domains: what is recommended (movies, news, music) and the data that describes users and items."""
