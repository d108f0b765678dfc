# The fast detector of the two-detector setup on SynthVID (the paper's
# R-FCN-18 beside ClockNet-101, Sec. 4.2 / 5.3): the tiny R-FCN of
# rfcn_r18-tiny-d8.py at half its width, ResNet-18 with 8 base channels
# (1/8 of ResNet-18's 64). Its 3x3 conv embedding still gives 64 channels at
# stride 8, the size of the tiny ClockNet's memory, so that the two can be
# averaged (the paper's R-FCN-18 and ClockNet-101 embeddings are both
# 1024-d).
_base_ = './rfcn_r18-tiny-d8.py'
model = dict(
    detector=dict(backbone=dict(base_channels=8), neck=dict(in_channels=[64])))
