"""pytest plugin for zsmc (filled in by the counterexample issue)."""
