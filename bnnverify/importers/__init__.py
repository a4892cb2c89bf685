"""Importers: models trained elsewhere, turned into bnnverify's :class:`~bnnverify.encoders.layers.BNN`.

* :mod:`bnnverify.importers.bnnquanalyst` — BNNQuanalyst's CSV model folders,
  plus readers for its instance, fixed-set, target and query files.
"""

from bnnverify.importers.bnnquanalyst import (
    FoldedNeuron,
    FoldMargin,
    ImportResult,
    Query,
    QueryKind,
    fold_neuron,
    import_bnnquanalyst,
    import_bnnquanalyst_report,
    parse_queries,
    read_fixed_set,
    read_instance,
    read_targets,
)

__all__ = [
    "FoldedNeuron",
    "FoldMargin",
    "ImportResult",
    "Query",
    "QueryKind",
    "fold_neuron",
    "import_bnnquanalyst",
    "import_bnnquanalyst_report",
    "parse_queries",
    "read_fixed_set",
    "read_instance",
    "read_targets",
]
