"""Training BNNs with torch and exporting them exactly (batch norm folded as rationals)."""
