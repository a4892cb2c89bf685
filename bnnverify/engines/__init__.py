"""Engines: every way bnnverify answers a question, behind one interface."""
