"""The HTTP entrypoint (FastAPI): thin routes over the services."""
