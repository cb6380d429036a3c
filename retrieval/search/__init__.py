"""Finding passages: dense, BM25 and their fusion into one ranking."""
