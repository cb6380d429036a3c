"""The question: checked, parsed once into a Query, read with the conversation, limited by filters."""
