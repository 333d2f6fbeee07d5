"""pollhub: a multi-tenant event service for SaaS connectors."""

__version__ = "0.1.0"
