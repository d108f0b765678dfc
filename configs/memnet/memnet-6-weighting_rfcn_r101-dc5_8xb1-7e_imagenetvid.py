# MemNet-6 with learned per-pixel weighting (Eq. 4, Table 1).
_base_ = './memnet-6_rfcn_r101-dc5_8xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
model = dict(
    aggregator=dict(
        type='MemNetAggregator',
        in_channels=1024,
        mode='weighting',
        hidden_channels=256))
# With evidence dropout 0.8 all 5 later frames of a clip lose their evidence
# in 0.8^5 = 33% of the iterations, and psi's weight CNNs then get no
# gradient: DDP must allow unused parameters.
find_unused_parameters = True
