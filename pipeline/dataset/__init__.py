"""The output contract in one place: the folder layout, the writers, the Sen4Map format.

- :mod:`.layout`: where the ledger, points, staged units and country files lie;
- :mod:`.writer`: the writer interface (stage one unit, pack a group) and its registry;
- :mod:`.sen4map_format`: the Sen4Map HDF5 layout (dataset names, dtype, attributes);
- :mod:`.sen4map_writer` / :mod:`.sen4map_pack`: staging and packing that layout.
"""
