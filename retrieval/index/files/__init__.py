"""The default store: versions of files under one folder, searched with FAISS and bm25s."""
