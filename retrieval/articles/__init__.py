"""Articles: read a folder, find the prose, split it into sentences and passages with their offsets."""
