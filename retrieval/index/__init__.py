"""The index: the Store and Snapshot protocol, the one refresh decision, and its two stores (files/, milvus/)."""
