"""The ``google.cloud.location.Locations`` mixin: a fixed list of Cloud Tasks regions."""

from __future__ import annotations

from google.cloud.location import locations_pb2

from tasksctl.engine.validation import invalid
from tasksctl.errors import NotFound
from tasksctl.resources import parse_location_name

REGION_LABEL = "cloud.googleapis.com/region"

# Regions where Cloud Tasks is offered, with the display names Google uses for them.
REGIONS: dict[str, str] = {
    "africa-south1": "Johannesburg",
    "asia-east1": "Taiwan",
    "asia-east2": "Hong Kong",
    "asia-northeast1": "Tokyo",
    "asia-northeast2": "Osaka",
    "asia-northeast3": "Seoul",
    "asia-south1": "Mumbai",
    "asia-south2": "Delhi",
    "asia-southeast1": "Singapore",
    "asia-southeast2": "Jakarta",
    "australia-southeast1": "Sydney",
    "australia-southeast2": "Melbourne",
    "europe-central2": "Warsaw",
    "europe-north1": "Finland",
    "europe-southwest1": "Madrid",
    "europe-west1": "Belgium",
    "europe-west2": "London",
    "europe-west3": "Frankfurt",
    "europe-west4": "Netherlands",
    "europe-west6": "Zurich",
    "europe-west8": "Milan",
    "europe-west9": "Paris",
    "europe-west12": "Turin",
    "me-central1": "Doha",
    "me-central2": "Dammam",
    "me-west1": "Tel Aviv",
    "northamerica-northeast1": "Montréal",
    "northamerica-northeast2": "Toronto",
    "southamerica-east1": "São Paulo",
    "southamerica-west1": "Santiago",
    "us-central1": "Iowa",
    "us-east1": "South Carolina",
    "us-east4": "Northern Virginia",
    "us-east5": "Columbus",
    "us-south1": "Dallas",
    "us-west1": "Oregon",
    "us-west2": "Los Angeles",
    "us-west3": "Salt Lake City",
    "us-west4": "Las Vegas",
}
MAX_PAGE = 1000


def _location(project: str, location_id: str) -> locations_pb2.Location:
    return locations_pb2.Location(
        name=f"projects/{project}/locations/{location_id}",
        location_id=location_id,
        display_name=REGIONS[location_id],
        labels={REGION_LABEL: location_id},
    )


def get_location(request: locations_pb2.GetLocationRequest) -> locations_pb2.Location:
    """GetLocation: NOT_FOUND for a region Cloud Tasks does not serve."""
    name = parse_location_name(request.name)
    if name.location not in REGIONS:
        raise NotFound("Requested entity was not found.")
    return _location(name.project, name.location)


def list_locations(
    request: locations_pb2.ListLocationsRequest,
) -> locations_pb2.ListLocationsResponse:
    """ListLocations with paging (the page token is the last location ID returned)."""
    project = _project_of(request.name)
    if request.page_size < 0:
        raise invalid("page_size", "must not be negative")
    size = min(request.page_size or MAX_PAGE, MAX_PAGE)
    ids = sorted(i for i in REGIONS if i > request.page_token)
    page = ids[:size]
    response = locations_pb2.ListLocationsResponse(locations=[_location(project, i) for i in page])
    if len(ids) > size:
        response.next_page_token = page[-1]
    return response


def _project_of(name: str) -> str:
    parts = name.strip("/").split("/")
    if len(parts) != 2 or parts[0] != "projects" or not parts[1]:
        raise invalid("name", f"expected projects/PROJECT_ID, got {name!r}")
    return parts[1]
