"""Synthetic work dirs in the format mmengine writes (``<ts>/vis_data/scalars.json``)."""
import json
import os


def write_scalars(work_dir, lines, timestamp='20240101_000000', tail=''):
    """Write ``lines`` (dicts) as ``<work_dir>/<timestamp>/vis_data/scalars.json``."""
    directory = os.path.join(str(work_dir), timestamp, 'vis_data')
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, 'scalars.json'), 'w') as f:
        f.write(''.join(json.dumps(line) + '\n' for line in lines) + tail)
    return str(work_dir)


def train_line(it, time=0.5, **extra):
    line = dict(lr=0.01, data_time=0.01, loss=1.0, loss_cls=0.6, loss_bbox=0.4, time=time,
                iter=it, step=it)
    line.update(extra)
    return line


def val_line(step, ap, per_class=None, **extra):
    """A CocoMetric validation line; ``ap`` is bbox_mAP, the other APs derived from it."""
    line = {'coco/bbox_mAP': ap, 'coco/bbox_mAP_50': ap + 0.2, 'coco/bbox_mAP_75': ap - 0.05,
            'coco/bbox_mAP_s': ap - 0.1, 'coco/bbox_mAP_m': ap, 'coco/bbox_mAP_l': -1.0}
    for name, value in (per_class or {}).items():
        line[f'coco/{name}_precision'] = value
    line.update(data_time=0.01, time=0.05, step=step)
    line.update(extra)
    return line
