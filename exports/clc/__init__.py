"""CORINE Land Cover labels: the reference maps of ``etl bigearthnet``."""
