"""The built-in ``movies`` domain: MovieLens ratings with optional TMDB item text."""
