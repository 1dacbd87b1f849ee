"""Errors raised on bad input. Each message names the file, column or rows at fault."""


class DataError(ValueError):
    """Bad input data: a CSV with wrong columns, unknown labels, duplicate ids, a split with one class."""


class ImageLoadError(DataError):
    """An image that is missing, truncated or cannot be decoded. ``path`` names the file."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load image {self.path}: {reason}")
