"""In-memory template galleries (residents, watch list) searched by cosine similarity."""

from gateway.gallery.matrix import Gallery, Match, TemplateModelMismatch

__all__ = ["Gallery", "Match", "TemplateModelMismatch"]
