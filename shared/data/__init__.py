"""Face data sources for training and evaluation.

- ``synthetic.SyntheticFaces``: unlimited synthetic faces with pseudo-identities (DCGAN, gan-face-generate).
- ``folder.FolderFaces``: your own labelled crops named like the reference's P-DESTRE crops.
- ``real_faces.load_real_faces``: the few real faces shipped in packages (evaluation/tests only).
- ``batches``: ``PairedBatch`` (phase 2), ``LabelledBatch`` + ``pair_indices`` (phase 1), ``FaceSource``.
- ``augment.degrade``: batched surveillance-quality degradation.
Submodules import torch; import them directly.
"""
