"""The composition root: builds the service from its settings, and the `procsuite` CLI."""
