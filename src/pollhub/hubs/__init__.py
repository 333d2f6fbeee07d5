"""The hub API: an instance's resources, read through the same layer the poller uses."""
