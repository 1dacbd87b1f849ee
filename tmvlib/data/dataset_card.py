"""Dataset cards computed from the records, so that every count in the book comes from the data."""
from __future__ import annotations

import pandas as pd

# Provenance and terms as published by the dataset authors (see ../shared/data/README.md).
DATASET_FACTS = {
    "nih14": {
        "name": "NIH Clinical Center ChestX-ray14",
        "licence": "public, no restrictions on use; acknowledge the NIH Clinical Center",
        "citation": "Wang et al., ChestX-ray8, IEEE CVPR 2017; expert labels: Majkowska et al., "
                    "Radiology 2020",
        "population": "adults and children imaged at the NIH Clinical Center (Bethesda, USA)",
        "labels": "text-mined from reports (reported accuracy >90%, known to be noisy)",
    },
    "kermany": {
        "name": "Pediatric chest X-ray pneumonia (Guangzhou)",
        "licence": "CC BY 4.0",
        "citation": "Kermany et al., Cell 2018;172(5):1122-1131",
        "population": "children aged 1-5, Guangzhou Women and Children's Medical Center (China)",
        "labels": "clinical grading by two physicians, checked by a third",
    },
    "chexpert": {
        "name": "CheXpert",
        "licence": "Stanford University School of Medicine CheXpert Dataset Research Use Agreement",
        "citation": "Irvin et al., AAAI 2019",
        "population": "Stanford Hospital inpatients and outpatients",
        "labels": "text-mined with uncertainty labels",
    },
}


def dataset_card(records: pd.DataFrame) -> pd.DataFrame:
    """One-column table of facts and counts for one dataset's records."""
    dataset = records["dataset"].iloc[0]
    facts = dict(DATASET_FACTS.get(dataset, {}))
    findings = records["findings"].str.split("|").explode().value_counts()
    facts.update({
        "images": len(records),
        "patients": records["patient_id"].nunique(),
        "images per patient (median / max)":
            f"{records.groupby('patient_id').size().median():g} / {records.groupby('patient_id').size().max()}",
        "views": ", ".join(f"{k} {v}" for k, v in records["view"].value_counts().items()),
        "sex": ", ".join(f"{k} {v}" for k, v in records["sex"].value_counts().items()) or "not recorded",
        "age (median, IQR)": _age_summary(records["age"]),
        "file quality": ", ".join(f"{k} {v}" for k, v in records["quality"].value_counts().items()),
        "most frequent findings": ", ".join(f"{k} {v}" for k, v in findings.head(6).items()),
        "images with radiologist boxes": int((records["box_findings"] != "").sum()),
        "images with expert labels": int((records["expert_set"] != "").sum()),
    })
    return pd.DataFrame({"value": pd.Series(facts, dtype=object)}).rename_axis(dataset)


def _age_summary(age: pd.Series) -> str:
    age = age.dropna()
    if age.empty:
        return "not recorded per image"
    q1, median, q3 = age.quantile([0.25, 0.5, 0.75])
    return f"{median:g} ({q1:g}-{q3:g})"


def demographics_by_split(splits: pd.DataFrame) -> pd.DataFrame:
    """Per split: median age, share female, share AP view, for all images and for positives."""
    def summarise(frame: pd.DataFrame) -> pd.Series:
        return pd.Series({
            "images": len(frame),
            "median age": frame["age"].median(),
            "female %": 100 * (frame["sex"] == "F").mean(),
            "AP view %": 100 * (frame["view"] == "AP").mean(),
            "AP view % (positives)": 100 * (frame.loc[frame["label"] == 1, "view"] == "AP").mean(),
            "AP view % (negatives)": 100 * (frame.loc[frame["label"] == 0, "view"] == "AP").mean(),
        })
    order = [s for s in ("train", "val", "test", "localisation") if s in set(splits["split"])]
    table = splits.groupby("split").apply(summarise, include_groups=False).reindex(order)
    table.loc["all"] = summarise(splits)
    return table.round(1).astype({"images": int})


def source_by_class(task: pd.DataFrame, class_names: dict[int, str]) -> pd.DataFrame:
    """Images per source repository and class: where the label could be predicted by provenance."""
    table = pd.crosstab(task["source"], task["label"].map(class_names), margins=True, margins_name="total")
    return table.sort_values("total", ascending=False)


def fold_design_text(cross_fit: bool) -> str:
    """Chapter 01's sentence on which fold models the run fits (``cross_fit``)."""
    if cross_fit:
        return ("Every fold gets a model (`cross_fit: true`), so the later chapters give every result both "
                "pooled over the folds and for the deployed model")
    return ("This run fits no fold models (`cross_fit: false`, the full profile): the \"folds\" below are the "
            "split itself (0 test, 1 validation, 2 train), the roles of the deployed model alone, so every "
            "\"cross-fitted\" or \"pooled\" result of the later chapters is the deployed model's on the test "
            "split, with one fold")


def split_rule_text(split_source: str) -> str:
    """Chapter 01's sentence on how a patient's split is decided (``split_source``: ``"folds"``,
    ``"hash"`` or ``"official"``)."""
    hashed = ("decided by a salted sha256 of the patient id alone: the same parameters always give the same "
              "split, the order of the files does not matter, and adding patients never moves an existing one")
    if split_source == "folds":
        return ("A patient's split is its role for the deployed model, the model of patient fold 0 (the folds "
                "below): fold 0 is the test split, fold 1 the validation split (the deployed model's "
                "calibration fold, where its threshold, calibration and trust card are fitted, and which chose "
                "no checkpoint) and the other folds the training split, of which a fixed, seeded share of "
                "patients only chooses the training epoch. The folds are dealt in salted-hash order, so the "
                "same parameters always give the same split and the order of the files does not matter")
    if split_source == "hash":
        return f"A patient's split is {hashed}"
    if split_source == "official":
        return ("The NIH release's own lists decide the test split (`test_list.txt`, the official patient "
                "split, so test numbers are comparable with published ones); whether a patient of "
                f"`train_val_list.txt` goes to training or validation is {hashed}")
    raise ValueError(f"split_source must be 'folds', 'hash' or 'official', got {split_source!r}")


def prevalence_agreement_text(split_source: str) -> str:
    """Chapter 01's sentence on whether the splits' prevalences should agree."""
    if split_source == "official":
        return ("The official test list was not drawn by the hash, so its prevalence may differ from "
                "training and validation by more than sampling noise; the table shows by how much")
    if split_source == "folds":
        return "Because the folds are stratified by label, the three splits' prevalences agree up to whole patients"
    return "Because a patient's split depends only on a hash of its id, the three splits' prevalences agree up to sampling noise"
