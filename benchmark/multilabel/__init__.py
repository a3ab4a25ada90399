"""The BigEarthNet-MM multi-label benchmark (Sumbul et al., IEEE GRSM 2021).

ResNet50/101/152 and VGG16/19 trained from scratch on S1 (2 bands), S2 (10 bands) or S1+S2
(12 bands) patches of 120×120 pixels, 19 classes, sigmoid cross-entropy. The networks are
in ``benchmark.multilabel.nets``. This ``__init__`` imports nothing, so that importing the
package loads no torch.
"""
