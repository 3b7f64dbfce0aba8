"""The local staff web page (FastAPI) for enrolment and building management."""
