"""Data: readers into one record schema, the binary task, patient-level splits, image loading."""
from .chexpert import read_chexpert
from .errors import DataError, ImageLoadError
from .exclusions import Exclusions
from .images import check_images, load_image
from .kermany import read_kermany
from .nih import read_nih, read_nih_boxes
from .schema import RECORD_COLUMNS
from .splits import (assign_splits, check_no_leakage, check_split_classes, split_hash,
                     split_summary)
from .task import build_binary_task

__all__ = [
    "DataError", "Exclusions", "ImageLoadError", "RECORD_COLUMNS", "assign_splits",
    "build_binary_task", "check_images", "check_no_leakage", "check_split_classes", "load_image",
    "read_chexpert", "read_kermany", "read_nih", "read_nih_boxes", "split_hash", "split_summary",
]
