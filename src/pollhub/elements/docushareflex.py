"""Xerox DocuShare Flex (``docushareflex``): documents of one DocuShare Flex site.

Public documentation of DocuShare Flex's REST API is thin, so this module fixes the one
shape pollhub uses and the sandbox serves (see ``reference/providers.md``); adapting to
the real API touches only this module. Each customer has its own site, the instance's
``docushare.domain`` (``<name>.docushareflex.com``), which hosts both OAuth and the API:

- ``GET https://{domain}/oauth2/authorize`` and ``POST https://{domain}/oauth2/token``
  (standard OAuth 2.0 authorization code grant with refresh tokens);
- ``GET https://{domain}/api/v1/objects?type=Document&modifiedAfter=<ISO>&page=<n>`` →
  ``{"items": [{"handle", "title", "create_date", "modified_date", "deleted"?}], "next"}``.
"""

from pollhub.elements.base import Element, PollableResource

_DATES = {
    "updatedDateField": "modified_date",
    "updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "updatedDateTimezone": "GMT",
    "createdDateField": "create_date",
    "createdDateFormat": "yyyy-MM-dd'T'HH:mm:ss'Z'",
    "createdDateTimezone": "GMT",
}

ELEMENT = Element(
    key="docushareflex",
    name="DocuShare Flex",
    hub="documents",
    event_mechanism="polling",
    description="Documents of one DocuShare Flex site, by their modified date.",
    authorization_url="https://{docushare.domain}/oauth2/authorize",
    token_url="https://{docushare.domain}/oauth2/token",
    default_scope="read offline_access",
    required_configuration=("docushare.domain",),
    resources=(
        PollableResource(
            name="events",
            url="/hubs/documents/events",
            id_field="handle",
            dates=_DATES,
            description="Every created, changed or deleted document on the site.",
        ),
    ),
)
