"""Files in and out: model files (``.npz``, no pickle), input files, atomic writes."""
