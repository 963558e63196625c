"""The operator's dashboard at /dashboard: server-rendered pages over the admin services."""
