"""Readable rows for the 21-526EZ's toxic exposure section (`form526.form526.toxicExposure`).

Only what the veteran checked is shown: for each checkbox group (`gulfWar1990`, `herbicide`,
`otherExposures`, `conditions`, ...) the places or hazards whose box is `true`, with the dates
and details given for each; then the free-text answers. Labels are VA.gov's wording
(vets-website's 526 constants); an unknown key gets a humanised label.
"""

from __future__ import annotations

from collections.abc import Mapping

from include.form526.package.fields import JsonValue, date_text, flatten, humanize, is_empty
from include.form526.package.submission import ToxicExposure
from include.form526.package.text_safety import to_text

GROUP_TITLES = {
    "conditions": "Conditions related to toxic exposure",
    "gulfWar1990": "Gulf War (1990 or later)",
    "gulfWar2001": "Gulf War (2001 or later)",
    "herbicide": "Agent Orange (herbicide) locations",
    "otherExposures": "Other toxic exposures (hazards)",
    "additionalExposures": "Other toxic exposures (hazards)",
    "additionalHazardExposures": "Other toxic exposures (hazards)",
    "otherHerbicideLocations": "Other locations of herbicide exposure",
    "herbicideOtherLocations": "Other locations of herbicide exposure",
    "specifyOtherExposures": "Other exposures not listed",
}
ITEM_LABELS = {
    # Gulf War 1990 and 2001 locations
    "afghanistan": "Afghanistan",
    "bahrain": "Bahrain",
    "egypt": "Egypt",
    "iraq": "Iraq",
    "israel": "Israel",
    "jordan": "Jordan",
    "kuwait": "Kuwait",
    "neutralzone": "Neutral zone between Iraq and Saudi Arabia",
    "oman": "Oman",
    "qatar": "Qatar",
    "saudiarabia": "Saudi Arabia",
    "somalia": "Somalia",
    "syria": "Syria",
    "uae": "The United Arab Emirates (UAE)",
    "turkey": "Turkey",
    "waters": "The waters of the Arabian Sea, Gulf of Aden, Gulf of Oman, Persian Gulf, and Red Sea",
    "airspace": "The airspace above any of these locations",
    "djibouti": "Djibouti",
    "lebanon": "Lebanon",
    "uzbekistan": "Uzbekistan",
    "yemen": "Yemen",
    # herbicide locations
    "cambodia": "Cambodia at Mimot or Krek, Kampong Cham Province",
    "guam": "Guam, American Samoa, or their territorial waters",
    "koreandemilitarizedzone": "In or near the Korean demilitarized zone",
    "johnston": "Johnston Atoll or on a ship that called at Johnston Atoll",
    "laos": "Laos",
    "c123": "Somewhere with contact with C-123 airplanes (Air Force or Air Force Reserves)",
    "thailand": "A U.S. or Royal Thai military base in Thailand",
    "vietnam": "Vietnam or the waters in or off of Vietnam",
    # other hazards
    "asbestos": "Asbestos",
    "chemical": "Chemical and biological warfare testing (Project 112 or Project SHAD)",
    "water": "Contaminated water at Camp Lejeune or MCAS New River, North Carolina",
    "mos": "Military Occupational Specialty (MOS)-related toxin",
    "mustardgas": "Mustard gas",
    "radiation": "Radiation",
    # any group
    "none": "None of these",
    "notsure": "Not sure",
}
_DATE_KEYS = ("startDate", "endDate")


def dates_text(details: object) -> str:
    """`from 1991-03 to 1992-01`, `from 1991-03`, `to 1992-01`, or '' when no date was given."""
    if not isinstance(details, Mapping):
        return ""
    start, end = (date_text(details.get(k)).strip() for k in _DATE_KEYS)
    return " ".join(p for p in (f"from {start}" if start else "", f"to {end}" if end else "") if p)


def _details_text(details: JsonValue) -> str:
    if is_empty(details):
        return "No dates given"
    if not isinstance(details, Mapping):
        return to_text(details)
    parts = [dates_text(details) or "No dates given"]
    rest = {k: v for k, v in details.items() if k not in _DATE_KEYS and not is_empty(v)}
    parts += [f"{label}: {text}" for label, text in flatten(rest) if text]
    return "; ".join(parts)


def toxic_exposure_rows(exposure: ToxicExposure) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group title, rows) for each group with something to show, in the order submitted."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for category in exposure.categories:
        title = humanize(category.key, GROUP_TITLES)
        if category.key == "conditions":
            rows = [(humanize(key, ITEM_LABELS), "Yes") for key, _ in category.checked]
        else:
            rows = [(humanize(key, ITEM_LABELS), _details_text(details)) for key, details in category.checked]
        groups.append((title, rows))
    for key, answer in exposure.free_text:
        title = humanize(key, GROUP_TITLES)
        if isinstance(answer, Mapping):
            rows = [("Description", to_text(answer.get("description")))]
            if dates_text(answer):
                rows.append(("Dates", dates_text(answer)))
            rest = {k: v for k, v in answer.items() if k not in ("description", *_DATE_KEYS) and not is_empty(v)}
            rows += flatten(rest)
        else:
            rows = flatten(answer, "Description")
        groups.append((title, rows))
    if exposure.extras:
        groups.append(("Other toxic exposure information", flatten(dict(exposure.extras))))
    if not is_empty(exposure.unparsed):
        groups.append(("Toxic exposure information", flatten(exposure.unparsed)))
    return groups
