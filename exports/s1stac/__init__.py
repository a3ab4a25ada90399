"""The ``stac`` radar source: Sentinel-1 COGs of linear backscatter described by STAC items.

Items shaped like Microsoft Planetary Computer's ``sentinel-1-rtc`` (assets ``vv``, ``vh``;
``sat:*`` and ``sar:*`` properties), from a static catalog (``--s1-catalog``) or a STAC API
(``--s1-stac-url``); every slice is read once per batch for all the points it serves, and
its linear values are converted to dB on each point's patch grid.
"""
