"""Indexes over records: full text, dense vectors and the embedders that feed them."""
