"""OAuth 2.0 with the providers: exchanging codes and refreshing tokens (authlib)."""
