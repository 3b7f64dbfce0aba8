"""Model manifest, packs, fetching from official URLs or a local mirror, and hash verification."""
