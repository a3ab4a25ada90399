"""The Earth Engine source: COPERNICUS/S2_SR_HARMONIZED through computePixels or batch exports."""
