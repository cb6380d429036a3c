"""From passages to an answer: candidate sentences, the reader, abstention, composing with citations."""
