"""Test helpers for the tools: a tiny COCO-format data set, a tiny RetinaNet config, and
running ``tools/*`` as subprocesses with the project's interpreter."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
from PIL import Image

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CLASSES = ('square', 'bar')


def write_coco_dataset(root, num_train=4, num_val=2, size=64, seed=0):
    """Noise images with 1-2 filled rectangles per image, COCO json per split.

    Writes ``<root>/{train,val}/*.png`` and ``<root>/annotations/instances_{train,val}.json``
    with the categories of ``CLASSES`` (ids 1..len(CLASSES)). Returns ``root``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    for split, count in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for image_id in range(1, count + 1):
            pixels = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            for _ in range(rng.integers(1, 3)):
                label = int(rng.integers(len(CLASSES)))
                w = int(rng.integers(16, 32))
                h = w if label == 0 else max(8, w // 3)
                x, y = (int(v) for v in rng.integers(0, size - 32, 2))
                pixels[y:y + h, x:x + w] = (255, 255, 255) if label == 0 else (255, 64, 0)
                annotations.append(dict(id=len(annotations) + 1, image_id=image_id,
                                        category_id=label + 1, bbox=[x, y, w, h],
                                        area=w * h, iscrowd=0))
            file_name = f'{image_id:04d}.png'
            Image.fromarray(pixels).save(osp.join(root, split, file_name))
            images.append(dict(id=image_id, file_name=file_name, width=size, height=size))
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return root


TINY_CONFIG = """\
_base_ = ['mmdet::retinanet/retinanet_r18_fpn_1xb8-1x_coco.py', {plugin!r}]
data_root = {data_root!r}
metainfo = dict(classes={classes!r})
model = dict(
    backbone=dict(depth=18, base_channels=16, init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=32, start_level=1, num_outs=3),
    bbox_head=dict(num_classes={num_classes}, in_channels=32, feat_channels=32, stacked_convs=1,
                   anchor_generator=dict(octave_base_scale=2, strides=[8, 16, 32])),
    # an untrained head scores ~0.01 (prior): keep every box so COCO metrics exist
    test_cfg=dict(nms_pre=100, score_thr=0.0, max_per_img=20))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=({size}, {size}), keep_ratio=True),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=({size}, {size}), keep_ratio=True),  # sets scale_factor
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True), batch_sampler=None,
    dataset=dict(_delete_=True, type='CocoDataset', metainfo=metainfo, data_root=data_root,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=False), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='CocoDataset', metainfo=metainfo, data_root=data_root,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + '/annotations/instances_val.json', classwise=True)
test_evaluator = val_evaluator
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={max_iters},
                 val_interval={max_iters})
param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=2)]
optim_wrapper = dict(optimizer=dict(lr=0.01), clip_grad=dict(max_norm=10, norm_type=2))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval={max_iters}))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
"""


def write_tiny_config(path, data_root, max_iters=4, size=64):
    """A RetinaNet (ResNet-18 at quarter width, 32-channel FPN/head) on ``data_root``.

    It trains ``max_iters`` iterations (IterBasedTrainLoop), validates with classwise COCO
    metrics at the end and logs asl_det's probability statistics (configs/_plugin.py).
    """
    with open(path, 'w') as f:
        f.write(TINY_CONFIG.format(plugin=osp.join(REPO, 'configs', '_plugin.py'),
                                   data_root=str(data_root), classes=CLASSES,
                                   num_classes=len(CLASSES), max_iters=max_iters, size=size))
    return str(path)


def tool_env():
    """Environment for tool subprocesses: repo on PYTHONPATH, one thread per process."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHON=sys.executable,
               CUDA_VISIBLE_DEVICES='')
    return env


def run_tool(args, cwd, timeout=300):
    """Run ``[sys.executable, *args]`` (or ``bash`` for ``.sh``) in ``cwd``; return the result.

    Raises AssertionError with the output tail if the exit code is not 0.
    """
    command = (['bash'] if args[0].endswith('.sh') else [sys.executable]) + list(args)
    result = subprocess.run(command, cwd=cwd, env=tool_env(), capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f'{" ".join(command)} exited {result.returncode}\n'
        f'--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}')
    return result
