"""citeqa's library: articles -> passages -> index -> cited answers. No I/O beyond the store."""
