"""Text data: tokenizers, vocabulary, named corpora and batch iterators."""
