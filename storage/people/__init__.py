"""Connecting members: the consented directory, its topics and introductions (double opt-in)."""
