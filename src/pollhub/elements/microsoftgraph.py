"""Microsoft Graph (``microsoftgraph``): changes pushed by Graph change notifications.

Provider docs: https://learn.microsoft.com/graph/change-notifications-overview
"""

from pollhub.elements.base import Element

ELEMENT = Element(
    key="microsoftgraph",
    name="Microsoft Graph",
    hub="general",
    event_mechanism="webhook",
    description="Calendar events (and other Graph resources) by Graph change notifications.",
    authorization_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
    default_scope="Calendars.Read offline_access",
    authorization_params={"response_mode": "query"},
)
