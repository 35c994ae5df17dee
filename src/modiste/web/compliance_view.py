"""A channel profile's verdict in people's words, for the gallery review and the catalog view.

Both read the stored checks (``modiste check``, or ingest for ``MODISTE_COMPLIANCE_PROFILES``).
The review page checks its one product when the stored result is missing or stale (a few
photos, without OCR: text rules then say "not checked"); the catalog view reads stored results
only, so it answers at once however large the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from modiste.catalog.db import Database
from modiste.compliance.catalog import failing_products, product_compliance
from modiste.compliance.profiles import Profile, list_profiles, load_profile
from modiste.config import Settings
from modiste.errors import NotFoundError

# Rule kinds as a merchandiser names them.
RULE_NAMES = {
    "background": "Background",
    "fill": "Product size in the frame",
    "min_size": "Photo too small",
    "aspect": "Aspect ratio",
    "max_bytes": "File too large",
    "format": "File format",
    "text": "Text, logo or badge",
    "duplicate": "Same photo twice",
    "required_shot": "Missing shot",
    "main_shot": "First photo",
    "max_images": "Too many photos",
    "gallery": "No photo left",
}


def rule_name(profile: Profile, rule_id: str) -> str:
    """``main-fill`` (a fill rule) -> "Product size in the frame"."""
    kind = next((r.kind for r in profile.rules if r.id == rule_id), rule_id)
    return RULE_NAMES.get(kind) or rule_id.replace("-", " ").replace("_", " ").capitalize()


@dataclass
class Verdict:
    """One product's check in words; ``images`` in the channel's order."""

    profile: str
    description: str
    source: str
    count: int
    stored: bool
    gallery: list[dict[str, str]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count == 0 and not self.errors


def default_profile(settings: Settings) -> str | None:
    """The first profile ingest checks (``MODISTE_COMPLIANCE_PROFILES``), when it is a name:
    its stored results make the pages instant."""
    names = set(list_profiles(settings))
    return next((p for p in settings.compliance_profiles if p in names), None)


def chosen_profile(settings: Settings, name: str | None) -> Profile | None:
    """The profile a page asked for by name (never a server path), None when none was."""
    if not name:
        return None
    names = list_profiles(settings)
    if name not in names:
        raise NotFoundError(f"no profile {name!r}; known profiles: {', '.join(names)}")
    return load_profile(name, settings)


def verdict_of(profile: Profile, report: dict[str, Any], *, stored: bool) -> Verdict:
    """A stored report (``ProductReport.to_dict()``) in words."""

    def said(v: dict[str, Any]) -> dict[str, str]:
        rule = str(v.get("rule", ""))
        return {"name": rule_name(profile, rule), "rule": rule, "message": str(v.get("message"))}

    gallery = [said(v) for v in report.get("violations", [])]
    out = Verdict(profile.name, profile.description, profile.source, len(gallery), stored)
    out.gallery = gallery
    images = sorted(report.get("images", []), key=lambda i: (i.get("rank") is None, i.get("rank")))
    for image in images:
        found = [said(v) for v in image.get("violations", [])]
        out.count += len(found)
        out.images.append(
            {"image": image.get("image"), "rank": image.get("rank"), "violations": found}
        )
        out.not_checked += [f"Photo {image.get('image')}: {v['message']}"
                            for v in image.get("skipped", [])]  # fmt: skip
    out.errors = [f"Photo {e.get('image')}: {e.get('error')}" for e in report.get("errors", [])]
    return out


def review_context(
    settings: Settings, db: Database, store: Any, profile_name: str | None, product_id: int
) -> dict[str, Any]:
    """What the review page's verdict panel shows: the profiles to choose from and, for the
    chosen one, the product's verdict (or why there is none)."""
    profile_name = profile_name or default_profile(settings)
    context: dict[str, Any] = {
        "profiles": list_profiles(settings),
        "profile_name": profile_name or "",
        "verdict": None,
        "verdict_error": None,
    }
    try:
        profile = chosen_profile(settings, profile_name)
    except NotFoundError as e:
        context["verdict_error"] = str(e)
        return context
    if profile is not None:
        report, stored = product_compliance(settings, db, profile, product_id, store=store)
        context["verdict"] = verdict_of(profile, report, stored=stored)
    return context


def catalog_context(
    settings: Settings, session: Session, profile_name: str | None, page: int, per_page: int
) -> dict[str, Any]:
    """The failing products of the chosen profile, worst first, with readable rule names."""
    profile = chosen_profile(settings, profile_name or default_profile(settings))  # else 404
    context: dict[str, Any] = {
        "profiles": list_profiles(settings),
        "profile": profile,
        "rows": [],
        "total": 0,
        "pages": 1,
    }
    if profile is None:
        return context
    total, rows = failing_products(
        session, profile.name, limit=per_page, offset=(page - 1) * per_page
    )
    context["rows"] = [
        {"p": r, "rules": sorted({rule_name(profile, rule) for rule in r.rules})} for r in rows
    ]
    context["total"] = total
    context["pages"] = max(1, -(-total // per_page))
    return context
