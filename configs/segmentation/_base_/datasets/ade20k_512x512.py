# ADE20K (SceneParse150) at 512x512, mmseg's standard pipeline. The datasets set reduce_zero_label=True (read by
# LoadAnnotations): label 0 ("other") becomes the ignore index 255 and labels 1..150 classes 0..149.
# Train: RandomResize to (2048, 512) x [0.5, 2.0] keeping the aspect ratio, RandomCrop 512 (no class above 75 % of the
# crop), flip, photometric distortion. Test: resize to (2048, 512) keeping the ratio; the annotations are loaded after
# the resize, so mIoU is computed at the original resolution. 2 images per GPU (x 8 GPUs = 16).
# Layout: data_root/{images,annotations}/{training,validation}/*.{jpg,png}.
from mmcv.transforms import LoadImageFromFile, RandomFlip, RandomResize, Resize
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmseg.datasets import ADE20KDataset
from mmseg.datasets.transforms import LoadAnnotations, PackSegInputs, PhotoMetricDistortion, RandomCrop
from mmseg.evaluation import IoUMetric

data_root = 'data/ade/ADEChallengeData2016'
crop_size = (512, 512)
train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations),
    dict(type=RandomResize, scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type=RandomCrop, crop_size=crop_size, cat_max_ratio=0.75),
    dict(type=RandomFlip, prob=0.5),
    dict(type=PhotoMetricDistortion),
    dict(type=PackSegInputs),
]
# The two loaders by name, not class: mmseg's inference_model and MMSegInferencer find them by comparing the type with
# the strings 'LoadImageFromFile' / 'LoadAnnotations' (to load arrays and to skip the annotations); a class never
# matches, and inference on an image without annotations then fails.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type=Resize, scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type=PackSegInputs),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type=InfiniteSampler, shuffle=True),
    dataset=dict(
        type=ADE20KDataset,
        data_root=data_root,
        reduce_zero_label=True,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    train_dataloader,
    batch_size=1,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type=IoUMetric, iou_metrics=['mIoU'])
test_evaluator = val_evaluator
