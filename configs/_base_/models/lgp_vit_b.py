# The encoder of every ViT-B/16 config (pre-training, evaluation, segmentation), and the CPU scale that the nano twins
# give it: the nano LGPViT (48 dims, 6 blocks, 3 heads) on 32x32 images with 4x4 patches (8x8 = 64 patches).
from lgp.models import LGPViT

backbone = dict(type=LGPViT, arch='b', img_size=224, patch_size=16)
nano = dict(arch='nano', img_size=32, patch_size=4)
