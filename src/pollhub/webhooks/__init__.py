"""Provider webhooks (Microsoft Graph): subscriptions kept alive, notifications received."""
