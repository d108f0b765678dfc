# MemNet-6 with learned per-pixel weighting (Eq. 4, Table 1).
_base_ = './memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
model = dict(
    aggregator=dict(
        type='MemNetAggregator',
        in_channels=1024,
        mode='weighting',
        hidden_channels=256))
