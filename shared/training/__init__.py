"""Training: phase 1 (pairwise recognisers) and phase 2 (the UU-Net), CPU or CUDA, DDP."""
