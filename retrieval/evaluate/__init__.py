"""`citeqa eval`: runs over a questions file and the figures they give."""
