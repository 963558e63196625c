"""Adapters: each implements a port over one technology and translates its errors into ours."""
