"""Retrieval: query parsing, retrievers and rank fusion."""
