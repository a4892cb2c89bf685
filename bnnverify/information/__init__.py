"""Exact information: I(X;T), I(T;Y) from exact counts per hidden code; the information plane; code graphs."""
