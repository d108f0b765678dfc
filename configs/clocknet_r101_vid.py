# The paper's main model under the name the docs use:
#   bash tools/dist_train.sh configs/clocknet_r101_vid.py 4
_base_ = './clocknet/clocknet_rfcn_r101-dc5_4xb1-7e_imagenetvid.py'
custom_imports = dict(imports=['memvid_mm'], allow_failed_imports=False)
