raise RuntimeError("this module fails at import")
