"""The grid of the network maps, shared by both networks, the estimator and the decoder."""
from __future__ import annotations

# Input pixels per network map cell. Both networks downsample by 8: MobileNet-thin by three
# stride-2 convs, CMU's VGG front end by three 2×2 max-pools. A network with another stride
# would need its own value (on its ModelSpec) instead of this constant.
STRIDE = 8
