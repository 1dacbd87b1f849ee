"""The per-image trust card (chapter 08, ``tmv predict``).

- ``inputs``: read one radiograph (PNG/JPEG 8/16-bit grey or RGB, DICOM with pydicom) and
  describe it (format, bit depth, channels, size);
- ``reference``: what the training images look like (intensity, size, feature-space
  neighbours) and the out-of-distribution checks against it;
- ``predictor``: everything a run's chapters learned, loaded once, applied to one image;
- ``render``: the card as PNG, self-contained HTML and JSON.
"""
from .inputs import Radiograph, read_radiograph
from .predictor import TrustCardPredictor
from .reference import InputReference, fit_input_reference
from .render import write_card

__all__ = ["InputReference", "Radiograph", "TrustCardPredictor", "fit_input_reference",
           "read_radiograph", "write_card"]
