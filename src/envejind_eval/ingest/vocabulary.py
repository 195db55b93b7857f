"""Danish delivery vocabulary: how each canonical code is spelled in a municipal delivery.

The one declaration of the delivery codes. :mod:`envejind_eval.ingest.mapping` derives the
reader's recognition tables from it (:func:`recognised`); :mod:`envejind_eval.synth` and the
test delivery writer use :data:`DELIVERY` to write deliveries.

``DELIVERY[code_list][canonical]`` is the spelling written into a delivery ("" = left
blank); ``ALSO_RECOGNISED[code_list]`` lists further spellings the reader accepts.
"""

from __future__ import annotations

from collections.abc import Mapping

#: code list -> canonical code -> the spelling written in a delivery ("" = blank cell).
DELIVERY: dict[str, dict[str, str]] = {
    "attendance": {"present": "M", "late": "K", "excused": "S", "unexcused": "F"},
    "sex": {"female": "K", "male": "M", "other": "A", "unknown": ""},
    "referred_by": {
        "social_services": "Socialforvaltningen",
        "police": "Politiet",
        "sspk": "SSP",
        "jobcentre": "Jobcenter",
        "school": "Skole",
        "probation": "Kriminalforsorgen",
        "other": "Andet",
    },
    "status": {
        "completed": "Gennemført",
        "dropped_out": "Frafaldet",
        "excluded": "Udelukket",
        "ongoing": "I gang",
    },
    "timepoint": {
        "baseline": "Start",
        "midway": "Midtvejs",
        "end": "Slut",
        "followup": "Opfølgning",
    },
    "rater": {"self": "Selv", "mentor": "Mentor", "staff": "Personale"},
    "activity": {
        "art": "ART",
        "mi": "MI-samtale",
        "teaching": "Undervisning",
        "sport": "Idræt",
        "other": "Andet",
    },
    #: outcome indicator -> column header of the wide status file
    "indicator": {
        "in_education": "I uddannelse",
        "in_employment": "I beskæftigelse",
        "police_charge": "Sigtet af politiet",
        "stable_housing": "Stabil bolig",
    },
}

#: Attendance code for an absence notified in advance (excused, like ``S`` for sick).
EXCUSED_NOTIFIED = "A"
#: Spelling of yes / no cells (``attended``, outcome indicators).
YES, NO = "Ja", "Nej"

#: code list -> further delivery spelling -> canonical code (accepted on reading only).
ALSO_RECOGNISED: dict[str, dict[str, str]] = {
    "attendance": {
        "Mødt": "present",
        "Kom for sent": "late",
        "Syg": "excused",
        EXCUSED_NOTIFIED: "excused",
        "Afbud": "excused",
        "Fravær": "unexcused",
        "Udeblevet": "unexcused",
    },
    "sex": {
        "Kvinde": "female",
        "Mand": "male",
        "Pige": "female",
        "Dreng": "male",
        "Andet": "other",
        "Ukendt": "unknown",
    },
    "referred_by": {
        "Kommunen": "social_services",
        "Politi": "police",
        "SSPK": "sspk",
        "Jobcentret": "jobcentre",
        "Skolen": "school",
    },
    "status": {
        "Frafald": "dropped_out",
        "Ekskluderet": "excluded",
        "Igang": "ongoing",
    },
    "timepoint": {
        "Før": "baseline",
        "Midt": "midway",
        "Efter": "end",
    },
    "rater": {
        "Den unge": "self",
        "Medarbejder": "staff",
    },
    "activity": {
        "MI": "mi",
        "MI samtale": "mi",
        "Sport": "sport",
    },
    "indicator": {
        "Uddannelse": "in_education",
        "in education": "in_education",
        "Beskæftigelse": "in_employment",
        "I job": "in_employment",
        "in employment": "in_employment",
        "Sigtet": "police_charge",
        "Sigtelse": "police_charge",
        "charged": "police_charge",
        "Bolig": "stable_housing",
        "stable housing": "stable_housing",
    },
    "yes_no": {
        YES: "1",
        "J": "1",
        NO: "0",
        "N": "0",
        "yes": "1",
        "no": "0",
        "true": "1",
        "false": "0",
        "1": "1",
        "0": "0",
        "1.0": "1",
        "0.0": "0",
        "Sand": "1",
        "Falsk": "0",
    },
}


def recognised(code_list: str) -> dict[str, str]:
    """Delivery spelling -> canonical code for reading ``code_list`` (not yet normalised).

    The written spellings of :data:`DELIVERY` (blank ones left out) followed by
    :data:`ALSO_RECOGNISED`; the canonical codes themselves are added by the reader.
    """
    written: Mapping[str, str] = DELIVERY.get(code_list, {})
    out = {spelling: code for code, spelling in written.items() if spelling}
    out.update(ALSO_RECOGNISED.get(code_list, {}))
    return out
