"""Data sets: the built-in ones (generated or shipped with scikit-learn) and user ``.npz`` files.

>>> from bnnverify.data import load_dataset
>>> load_dataset("ib12", "all").X.shape
(4096, 12)
"""

from bnnverify.data.datasets import Dataset, load_data_file, load_dataset

__all__ = ["Dataset", "load_dataset", "load_data_file"]
