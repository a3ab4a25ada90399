"""Package data of exports.clc (read with importlib.resources).

``clc2018_codes.csv``: the CORINE Land Cover 2018 Level-3 codes, their names and their
BigEarthNet 19-class name (``UNLABELED`` for the codes reBEN drops), transcribed unchanged
from reBEN's pipeline, kai-tub/bigearthnet-pipeline, ``migrations/V1_2__sentinel2_tables.sql``
(as ``../shared/bigearthnet/clc2018_codes.csv`` holds it; a ``realdata`` test checks the copy).
"""
