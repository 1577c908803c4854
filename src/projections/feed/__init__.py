"""The event feed read model: the notification log as public CloudEvents (``GET /events``)."""
