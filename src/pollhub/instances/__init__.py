"""Element instances: the ``/instances`` API and the service behind it."""
