"""/people (the member directory, introductions) and /topics."""
