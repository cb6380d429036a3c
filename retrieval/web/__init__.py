"""Web sources: saved pages and feeds read into article files of the corpus folder (see collect.collect)."""
