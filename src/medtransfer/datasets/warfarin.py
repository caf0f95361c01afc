"""The IWPC warfarin data set: weekly warfarin dose of 6,256 patients from 22 sites.

The bundled file is the International Warfarin Pharmacogenetics Consortium data (PharmGKB
PS206767, CC BY-SA 4.0; see ``files/IWPC_ATTRIBUTION.md``). Sites and ancestries are the
domains: sites 3, 4, 8 and 18 are East-Asian cohorts needing about half the dose of the rest.
"""

from __future__ import annotations

import re
import warnings
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from medtransfer.data.domain import Domain
from medtransfer.errors import DataError

BUNDLED_FILE = "iwpc_warfarin.csv"
DOSE = "Therapeutic Dose of Warfarin"
SITE, RACE, SUBJECT = "Project Site", "Race (OMB)", "PharmGKB Subject ID"
CYP2C9, VKORC1 = "CYP2C9 consensus", "VKORC1     -1639 consensus"
# SNPs in linkage disequilibrium with VKORC1 -1639 G>A, in the order the IWPC used them to
# impute a missing -1639 genotype, each with its genotype -> -1639 genotype map and whether
# the rule holds for Black patients (linkage is weaker in African ancestry).
LINKED_VKORC1 = (
    ("VKORC1 1173 consensus", {"C/C": "G/G", "C/T": "A/G", "T/T": "A/A"}, True),
    ("VKORC1 2255 consensus", {"C/C": "G/G", "C/T": "A/G", "T/T": "A/A"}, False),
    ("VKORC1 1542 consensus", {"G/G": "G/G", "C/G": "A/G", "C/C": "A/A"}, False),
)
INDUCERS = ("Carbamazepine (Tegretol)", "Phenytoin (Dilantin)", "Rifampin or Rifampicin")
AMIODARONE, SMOKER = "Amiodarone (Cordarone)", "Current Smoker"
REQUIRED = (SITE, RACE, "Age", "Height (cm)", "Weight (kg)", "Gender", AMIODARONE, *INDUCERS,
            SMOKER, "Target INR", CYP2C9, VKORC1)

CYP2C9_STATES = ("*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3")
VKORC1_STATES = ("G/G", "A/G", "A/A")
UNKNOWN, OTHER = "unknown", "other"
# Further co-medications and comorbidities the file records (yes/no, often missing by site);
# optional, so a file in the IWPC layout without them still loads.
RECORDED_FLAGS = {
    "aspirin": ("Aspirin",),
    "statin": ("Simvastatin (Zocor)", "Atorvastatin (Lipitor)", "Fluvastatin (Lescol)",
               "Lovastatin (Mevacor)", "Pravastatin (Pravachol)", "Rosuvastatin (Crestor)",
               "Cerivastatin (Baycol)"),
    "azole_antifungal": ("Anti-fungal Azoles",),
    "sulfonamide": ("Sulfonamide Antibiotics",),
    "macrolide": ("Macrolide Antibiotics",),
    "acetaminophen": ("Acetaminophen or Paracetamol (Tylenol)",),
    "supplements": ("Herbal Medications, Vitamins, Supplements",),
    "diabetes": ("Diabetes",),
    "heart_failure": ("Congestive Heart Failure and/or Cardiomyopathy",),
    "valve_replacement": ("Valve Replacement",),
}
# The patients' biology, as opposed to how a site measures or records: the covariates of the
# IWPC pharmacogenetic formula, and sex. Harmonisation must not align them (they carry the
# dose differences between populations); ``medtransfer.adapt.protect`` protects them.
COVARIATES = ("age_decades", "height_cm", "weight_kg", "sex", "race", "amiodarone",
              "enzyme_inducer", "cyp2c9", "vkorc1")
FEATURES = ("age_decades", "height_cm", "weight_kg", "sex", "race", "amiodarone",
            "enzyme_inducer", "smoker", "target_inr", "cyp2c9", "vkorc1", *RECORDED_FLAGS)


class GenotypeFormatWarning(UserWarning):
    """Genotype strings in a format the parser does not know were treated as missing."""


def bundled_path() -> Path:
    """Path of the vendored IWPC CSV inside the installed package."""
    return Path(str(files("medtransfer.datasets") / "files" / BUNDLED_FILE))


def _sorted_pair(raw: str, pattern: str) -> str | None:
    """``"*2/*1"`` → ``"*1/*2"``; None when ``raw`` is not two alleles matching ``pattern``."""
    parts = [p.strip() for p in raw.split("/")]
    if len(parts) != 2 or not all(re.fullmatch(pattern, p) for p in parts):
        return None
    key = (lambda a: int(a[1:])) if pattern.startswith(r"\*") else (lambda a: a)
    return "/".join(sorted(parts, key=key))


def parse_genotypes(values: pd.Series, gene: str) -> tuple[pd.Series, dict[str, int]]:
    """Parse CYP2C9 star-allele or VKORC1 -1639 genotype strings into fixed states.

    Parameters
    ----------
    values : Series
        Raw genotype strings (``"*1/*3"``, ``"A/G"``); NaN for not genotyped.
    gene : {"cyp2c9", "vkorc1"}
        Which gene the strings describe.

    Returns
    -------
    states : Series of str
        CYP2C9: one of ``CYP2C9_STATES``, ``"other"`` (rarer star alleles such as ``*1/*5``)
        or ``"unknown"``; VKORC1: one of ``VKORC1_STATES`` or ``"unknown"``.
    unrecognised : dict of str to int
        Each string in an unknown format and how often it occurred; these became "unknown".
    """
    pattern = r"\*\d+" if gene == "cyp2c9" else r"[ACGT]"
    known = CYP2C9_STATES if gene == "cyp2c9" else VKORC1_STATES
    states, unrecognised = [], {}
    for raw in values:
        if not isinstance(raw, str) or not raw.strip():
            states.append(UNKNOWN)
            continue
        pair = _sorted_pair(raw.upper(), pattern)
        if pair is None or (gene == "vkorc1" and pair not in known):
            unrecognised[raw] = unrecognised.get(raw, 0) + 1
            states.append(UNKNOWN)
        else:
            states.append(pair if pair in known else OTHER)
    return pd.Series(states, index=values.index, dtype=object), unrecognised


def _flag(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """1 if any column says yes (1, "yes"), 0 if any says no (0, "no") and none yes, NaN if
    none was recorded or ``frame`` has none of the columns."""
    present = [c for c in columns if c in frame]
    words = {"yes": 1.0, "no": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}
    values = frame[present].apply(
        lambda column: column.astype("string").str.strip().str.lower().map(words))
    flag = (values == 1).any(axis=1).astype(float)
    return flag.where(values.notna().any(axis=1))


def _target_inr(frame: pd.DataFrame) -> pd.Series:
    """Target INR, else the midpoint of the estimated range ("2-3" → 2.5, "2 to 3" → 2.5)."""
    stated = pd.to_numeric(frame["Target INR"], errors="coerce")
    if "Estimated Target INR Range Based on Indication" not in frame:
        return stated
    bounds = frame["Estimated Target INR Range Based on Indication"].astype(object).str.extract(
        r"^\s*(\d+(?:\.\d+)?)\s*(?:-|to)\s*(\d+(?:\.\d+)?)\s*$"
    )
    midpoint = bounds.astype(float).mean(axis=1, skipna=False)
    return stated.fillna(midpoint)


def _sex(values: pd.Series) -> pd.Series:
    lower = values.astype(object).where(values.notna(), "").map(lambda s: str(s).strip().lower())
    return lower.where(lower.isin(["male", "female"]), UNKNOWN).astype(object)


def impute_vkorc1_from_linked_snps(states: pd.Series, raw: pd.DataFrame) -> pd.Series:
    """Fill unknown VKORC1 -1639 states from linked SNPs, by the IWPC's published rule.

    The IWPC (N Engl J Med 2009, supplementary appendix) imputed a missing -1639 genotype
    from rs9934438 (1173 C>T) for every patient, else from rs2359612 (2255 C>T) or
    rs8050894 (1542 G>C) for patients not recorded as Black. On the bundled file the rule
    agrees with the genotyped -1639 state for 98% (rs9934438) of patients who have both.

    Parameters
    ----------
    states : Series of str
        Parsed -1639 states (see :func:`parse_genotypes`), "unknown" where missing.
    raw : DataFrame
        The raw IWPC table (same index); linked-SNP columns it lacks are skipped.

    Returns
    -------
    Series of str
        ``states`` with unknowns filled where a linked SNP was genotyped.
    """
    filled = states.copy()
    black = raw[RACE].astype(str).str.lower().str.startswith("black")
    for column, rule, any_race in LINKED_VKORC1:
        if column not in raw:
            continue
        implied = raw[column].astype("string").str.strip().str.upper().map(rule)
        usable = (filled == UNKNOWN) & implied.notna() & (any_race | ~black)
        filled[usable] = implied[usable]
    return filled


def parse_iwpc(
    raw: pd.DataFrame, source: str = BUNDLED_FILE, *, impute_vkorc1: bool = True
) -> tuple[pd.DataFrame, dict]:
    """Turn the raw IWPC columns into model-ready features, one row per patient.

    Parameters
    ----------
    raw : DataFrame
        The IWPC table as read from its CSV (column names as in the PharmGKB release).
    source : str
        Name of the file, quoted in messages.
    impute_vkorc1 : bool, default=True
        Fill a missing VKORC1 -1639 genotype from linked SNPs as the IWPC did
        (:func:`impute_vkorc1_from_linked_snps`); False keeps it "unknown".

    Returns
    -------
    features : DataFrame
        Columns ``FEATURES``: ``age_decades`` ("70 - 79" → 7, "90+" → 9), ``height_cm``,
        ``weight_kg``, ``sex``, ``race`` (Race (OMB)), ``amiodarone``, ``enzyme_inducer``
        (carbamazepine, phenytoin or rifampin), ``smoker`` (1/0/NaN), ``target_inr``,
        ``cyp2c9`` and ``vkorc1`` (genotype states, "unknown" when missing), then the
        co-medications and comorbidities of ``RECORDED_FLAGS`` (1/0/NaN; NaN also when the
        file lacks their columns).
    unrecognised : dict
        ``{"cyp2c9": {string: count}, "vkorc1": {...}}`` for genotype strings in an unknown
        format; a GenotypeFormatWarning reports them too.
    """
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {missing}; expected the IWPC PharmGKB layout "
            f"(e.g. {CYP2C9!r}, {VKORC1!r}); rename the columns or use the bundled file"
        )
    cyp, bad_cyp = parse_genotypes(raw[CYP2C9], "cyp2c9")
    vko, bad_vko = parse_genotypes(raw[VKORC1], "vkorc1")
    if impute_vkorc1:
        vko = impute_vkorc1_from_linked_snps(vko, raw)
    unrecognised = {"cyp2c9": bad_cyp, "vkorc1": bad_vko}
    _warn_unrecognised(unrecognised, source)
    age = raw["Age"].astype(object).str.extract(r"^\s*(\d)\d")[0].astype(float)
    return pd.DataFrame({
        "age_decades": age,
        "height_cm": pd.to_numeric(raw["Height (cm)"], errors="coerce"),
        "weight_kg": pd.to_numeric(raw["Weight (kg)"], errors="coerce"),
        "sex": _sex(raw["Gender"]),
        "race": raw[RACE].astype(object).fillna("Unknown"),
        "amiodarone": _flag(raw, (AMIODARONE,)),
        "enzyme_inducer": _flag(raw, INDUCERS),
        "smoker": _flag(raw, (SMOKER,)),
        "target_inr": _target_inr(raw),
        "cyp2c9": cyp,
        "vkorc1": vko,
        **{name: _flag(raw, columns) for name, columns in RECORDED_FLAGS.items()},
    }).reset_index(drop=True), unrecognised


def _warn_unrecognised(unrecognised: dict[str, dict[str, int]], source: str) -> None:
    for gene, counts in unrecognised.items():
        if counts:
            shown = ", ".join(f"{k!r}: {v}" for k, v in sorted(counts.items()))
            warnings.warn(
                f"{source}: {sum(counts.values())} {gene.upper()} genotype(s) in an unknown "
                f"format ({shown}) were treated as missing ('unknown'); expected e.g. "
                f"{'*1/*3' if gene == 'cyp2c9' else 'A/G'}",
                GenotypeFormatWarning,
                stacklevel=3,
            )


def _dose(raw: pd.DataFrame, source: str) -> np.ndarray:
    if DOSE not in raw:
        raise DataError(f"{source}: no column {DOSE!r} (the weekly dose label); add it")
    dose = pd.to_numeric(raw[DOSE], errors="coerce")
    bad = raw[DOSE][dose.isna() & raw[DOSE].notna()]
    if len(bad):
        raise DataError(
            f"{source}: column {DOSE!r} holds non-numeric value(s) {sorted(set(map(str, bad)))[:5]}"
            "; expected a weekly dose in mg (a number) or an empty cell for unknown"
        )
    if (dose <= 0).any():
        raise DataError(
            f"{source}: column {DOSE!r} has {int((dose <= 0).sum())} dose(s) ≤ 0 mg/week; "
            "a therapeutic dose is positive: correct them or leave the cells empty"
        )
    return dose.to_numpy(dtype=float)


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple | set | np.ndarray) else [value]


def _site_mask(raw: pd.DataFrame, site, source: str) -> np.ndarray:
    if site is None:
        return np.ones(len(raw), dtype=bool)
    present = sorted(int(s) for s in pd.to_numeric(raw[SITE], errors="coerce").dropna().unique())
    wanted = _as_list(site)
    unknown = [s for s in wanted if not isinstance(s, int | np.integer) or s not in present]
    if unknown:
        raise DataError(
            f"{source}: site(s) {unknown} not in column {SITE!r}; pass an int or a list of "
            f"ints from {present}"
        )
    return raw[SITE].isin(wanted).to_numpy()


def _race_mask(raw: pd.DataFrame, race, source: str) -> np.ndarray:
    if race is None:
        return np.ones(len(raw), dtype=bool)
    present = sorted(raw[RACE].dropna().astype(str).unique())
    chosen = set()
    for wanted in _as_list(race):
        key = str(wanted).strip().lower()
        hits = [p for p in present if key in (p.lower(), p.lower().split()[0])]
        if not hits:
            raise DataError(
                f"{source}: race {wanted!r} not in column {RACE!r}; pass one of {present} "
                "(case-insensitive; the first word, e.g. 'black', is enough)"
            )
        chosen.update(hits)
    return raw[RACE].isin(sorted(chosen)).to_numpy()


def _name(site, race) -> str:
    """A title a reader can take in: "IWPC warfarin, 18 sites", "IWPC warfarin, site 4"."""
    parts = ["IWPC warfarin"]
    for what, values in (("site", site), ("race", race)):
        if values is None:
            continue
        values = _as_list(values)
        parts.append(f"{len(values)} {what}s" if len(values) > 4 else
                     f"{what}{'s' if len(values) > 1 else ''} {', '.join(map(str, values))}")
    return ", ".join(parts)


def warfarin(
    site: int | list[int] | None = None,
    race: str | list[str] | None = None,
    *,
    require_dose: bool = True,
    impute_vkorc1: bool = True,
    path: str | Path | None = None,
) -> Domain:
    """Load the IWPC warfarin data as a regression Domain (label: dose in mg/week).

    Parameters
    ----------
    site : int or list of int, optional
        Keep only these values of ``Project Site`` (1 to 22).
    race : str or list of str, optional
        Keep only these values of ``Race (OMB)`` ("White", "Asian", "Black or African
        American", "Unknown"), case-insensitive; the first word is enough ("black").
    require_dose : bool, default=True
        Drop patients without a therapeutic dose; otherwise their label is NaN.
    impute_vkorc1 : bool, default=True
        Fill a missing VKORC1 -1639 genotype from linked SNPs, as the IWPC did (1,172 of
        the 1,273 missing ones in the bundled file); False leaves them "unknown".
    path : str or Path, optional
        A CSV in the IWPC PharmGKB layout to read instead of the bundled copy.

    Returns
    -------
    Domain
        kind "table"; ``inputs`` the parsed features (see :func:`parse_iwpc`), ``labels``
        float mg/week, ``ids`` the PharmGKB subject ids, ``metadata`` columns ``patient_id``,
        ``site`` and ``race``. ``inputs.attrs["unrecognised_genotypes"]`` counts genotype
        strings in an unknown format (also reported by a GenotypeFormatWarning).
    """
    file = Path(path) if path is not None else bundled_path()
    if not file.is_file():
        raise DataError(f"{file}: no such file; pass the path of an IWPC CSV or omit `path`")
    raw = pd.read_csv(file, low_memory=False)
    features, unrecognised = parse_iwpc(raw, source=file.name, impute_vkorc1=impute_vkorc1)
    dose = _dose(raw, file.name)
    keep = _site_mask(raw, site, file.name) & _race_mask(raw, race, file.name)
    if require_dose:
        keep &= ~np.isnan(dose)
    ids = raw[SUBJECT].astype(str).to_numpy() if SUBJECT in raw else np.arange(len(raw)).astype(str)
    metadata = pd.DataFrame({"patient_id": ids, "site": raw[SITE].to_numpy(),
                             "race": raw[RACE].astype(object).fillna("Unknown").to_numpy()})
    inputs = features[keep].reset_index(drop=True)
    inputs.attrs["unrecognised_genotypes"] = unrecognised
    return Domain(
        name=_name(site, race), kind="table", inputs=inputs, ids=ids[keep],
        labels=dose[keep], class_names=None,
        metadata=metadata[keep].reset_index(drop=True), root=file.parent,
    )
