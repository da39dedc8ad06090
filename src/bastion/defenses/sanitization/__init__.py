"""Data sanitization: find and remove poisoned training samples before training.

Each sanitizer is ``clean(dataset) -> CleaningResult``.
"""

from bastion.defenses.sanitization.base import CleaningResult, Sanitizer, keep_rows

__all__ = ["CleaningResult", "Sanitizer", "keep_rows"]
