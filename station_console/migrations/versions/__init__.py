"""Revisions of the station console's schema, oldest first."""
