"""Channel compliance: check galleries against a sales channel's image rules (a profile)."""

from modiste.compliance.check import (
    ImageReport,
    ProductReport,
    Violation,
    check_gallery,
    report_dict,
)
from modiste.compliance.measure import ImageFacts, ImageInput, measure_image
from modiste.compliance.profiles import ImageRule, Profile, list_profiles, load_profile

__all__ = [
    "ImageFacts",
    "ImageInput",
    "ImageReport",
    "ImageRule",
    "ProductReport",
    "Profile",
    "Violation",
    "check_gallery",
    "list_profiles",
    "load_profile",
    "measure_image",
    "report_dict",
]
