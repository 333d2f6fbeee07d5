"""Organizations, users, their secrets, and the Authorization header."""
