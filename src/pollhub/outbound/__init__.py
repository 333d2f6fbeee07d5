"""Outbound HTTP: the one address policy every request pollhub makes to a configured host
obeys (callbacks, provider APIs, token endpoints, the links providers return).

Below the domains on purpose: ``delivery/``, ``elements/``, ``oauth/`` and ``webhooks/`` all
build their clients here, so none of them can call into pollhub's own network by accident.
"""
