"""Open311 GeoReport v2: the themes as services and cases as service requests."""

from api.open311.router import PREFIX, router

__all__ = ["PREFIX", "router"]
