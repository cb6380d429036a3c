"""The HTTP API and the web chat (FastAPI), thin over `ask`."""
