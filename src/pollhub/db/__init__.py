"""Database engine, sessions, ORM models and shared column types."""
