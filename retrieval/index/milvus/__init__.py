"""The index in Milvus (milvus-lite or a server), behind the same Store and Snapshot protocol."""
