"""Ingest stage "compliance": check every changed product against the configured profiles.

The profiles are those named in ``MODISTE_COMPLIANCE_PROFILES``; with none, the stage does
nothing. It runs after the gallery order (the check judges the gallery the channel would get),
and only products whose stored result is stale are checked, so a second ingest is cheap and the
API's compliance views read stored results.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from modiste.compliance.catalog import check_catalog
from modiste.compliance.measure import default_ocr
from modiste.compliance.profiles import load_profile
from modiste.errors import ConfigError, NotFoundError
from modiste.pipeline.stages import Outcome, StageContext, register_stage

log = logging.getLogger(__name__)


@register_stage(
    "compliance",
    order=95,
    after=("order",),
    description="channel compliance of changed products (MODISTE_COMPLIANCE_PROFILES)",
    product_level=lambda ctx: _check_all(ctx),
)
def mark_for_compliance(ctx: StageContext, image_ids: Sequence[int]) -> dict[int, Outcome]:
    """Per image there is nothing to do: the check is per product, after all chunks."""
    return {i: Outcome.done() for i in image_ids}


def _check_all(ctx: StageContext) -> None:
    check_configured_profiles(ctx)


def check_configured_profiles(ctx: StageContext) -> dict[str, dict[str, int]]:
    """Check stale products for each configured profile; a profile that cannot be loaded is
    reported and skipped (the other profiles and the ingest go on)."""
    names = ctx.settings.compliance_profiles
    summary: dict[str, dict[str, int]] = {}
    if not names:
        return summary
    ocr = default_ocr()
    for name in names:
        try:
            profile = load_profile(name, ctx.settings)
        except (ConfigError, NotFoundError) as e:
            log.error("compliance profile %r skipped: %s", name, e)
            summary[name] = {"checked": 0, "failing": 0, "error": 1}
            continue
        reports = check_catalog(
            ctx.settings, ctx.db, profile, ocr=ocr, store=ctx.store, only_stale=True
        )
        summary[profile.name] = {
            "checked": len(reports),
            "failing": sum(1 for r in reports if not r.ok),
        }
    ctx.reports["compliance"] = summary
    return summary
