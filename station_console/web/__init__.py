"""The station console's web side: FastAPI app, auth, pages and the live board's SSE stream."""
