"""Package data of lucas: column lists, code lists and legends (read with importlib.resources)."""
