"""Mem0 Cloud (the mem0ai SDK's MemoryClient) as the memory engine. Imported only by bootstrap.py."""
