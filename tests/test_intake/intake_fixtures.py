"""Small VOC and COCO folders for the intake tests, written with PIL into a tmp folder."""
import json
import os
import os.path as osp

import numpy as np
from mmengine.config import Config
from PIL import Image


def write_image(path, width=64, height=48, seed=0):
    """A noise image (JPEG or PNG by extension); returns its bytes."""
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path)
    with open(path, 'rb') as f:
        return f.read()


def truncate(path, keep=0.6):
    """Cut the file to ``keep`` of its bytes (a download that stopped)."""
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:int(len(data) * keep)])


def voc_xml(file_name, objects, size=(64, 48)):
    """VOC XML text; objects: (name, xmin, ymin, xmax, ymax[, difficult]) in 1-based pixels."""
    size_xml = '' if size is None else (
        f'<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>')
    body = ''.join(
        f'<object><name>{o[0]}</name><difficult>{o[5] if len(o) > 5 else 0}</difficult>'
        f'<bndbox><xmin>{o[1]}</xmin><ymin>{o[2]}</ymin><xmax>{o[3]}</xmax>'
        f'<ymax>{o[4]}</ymax></bndbox></object>' for o in objects)
    return f'<annotation><filename>{file_name}</filename>{size_xml}{body}</annotation>'


def write_voc(root, images, splits=None):
    """``images``: {stem: objects or (objects, size) or raw XML text}; ``splits``: {split: [stems]}
    written to ImageSets/Main. Writes JPEGImages/<stem>.jpg (64 x 48) for each stem."""
    for i, (stem, objects) in enumerate(images.items()):
        write_image(osp.join(root, 'JPEGImages', f'{stem}.jpg'), seed=i)
        if isinstance(objects, str):
            text = objects
        else:
            objects, size = objects if isinstance(objects, tuple) else (objects, (64, 48))
            text = voc_xml(f'{stem}.jpg', objects, size)
        os.makedirs(osp.join(root, 'Annotations'), exist_ok=True)
        with open(osp.join(root, 'Annotations', f'{stem}.xml'), 'w') as f:
            f.write(text)
    for split, stems in (splits or {}).items():
        os.makedirs(osp.join(root, 'ImageSets', 'Main'), exist_ok=True)
        with open(osp.join(root, 'ImageSets', 'Main', f'{split}.txt'), 'w') as f:
            f.write(''.join(f'{stem}\n' for stem in stems))
    return str(root)


def snapshot(root):
    """{relative path: (size, mtime_ns, bytes)} of every file under ``root``."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            with open(path, 'rb') as f:
                found[osp.relpath(path, root)] = (os.stat(path).st_mtime_ns, f.read())
    return found


CATEGORIES = [dict(id=1, name='cat'), dict(id=2, name='dog')]


def write_coco(root, annotations, num_images=3, file_names=None, size=(64, 48), name='train'):
    """``<root>/images/<i>.jpg`` (64 x 48) and ``<root>/ann/<name>.json`` with ``annotations``
    given as (image id, category id, [x, y, w, h]); returns the json path."""
    file_names = file_names or [f'{i}.jpg' for i in range(1, num_images + 1)]
    images = []
    for i, file_name in enumerate(file_names, 1):
        path = osp.join(root, 'images', file_name)
        if not osp.exists(path):
            write_image(path, *size, seed=i)
        images.append(dict(id=i, file_name=file_name, width=size[0], height=size[1]))
    anns = [dict(id=k, image_id=image_id, category_id=category_id, bbox=list(bbox),
                 area=bbox[2] * bbox[3], iscrowd=0)
            for k, (image_id, category_id, bbox) in enumerate(annotations, 1)]
    path = osp.join(root, 'ann', f'{name}.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=CATEGORIES), f)
    return path


def coco_config(root, train_ann='ann/train.json', val_ann='ann/train.json', classes=None,
                train_dataset=None):
    """A config with train/val dataloaders on ``root`` (data_root) and a COCO evaluator."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]

    def dataset(ann_file):
        return dict(type='CocoDataset', data_root=str(root) + '/', ann_file=ann_file,
                    data_prefix=dict(img='images/'), pipeline=pipeline,
                    metainfo=dict(classes=classes or ('cat', 'dog')))
    return Config(dict(
        train_dataloader=dict(dataset=train_dataset or dataset(train_ann)),
        val_dataloader=dict(dataset=dataset(val_ann)),
        val_evaluator=dict(type='CocoMetric', ann_file=osp.join(str(root), val_ann))))


def write_yolo(root, labels, sizes=None, names=None, yaml_text=None, classes_txt=None):
    """A YOLO data set in Ultralytics' layout under ``root``.

    ``labels``: {'<split>/<image file name>': label text, or None for no label file}: writes
    ``images/<split>/<name>`` (64 x 48 noise, or ``sizes[key]``) and ``labels/<split>/<stem>.txt``.
    ``yaml_text`` (else, with ``names``, a data.yaml naming each split folder) goes to
    ``data.yaml``; ``classes_txt``: labelImg's class list written to ``labels/classes.txt``.
    Returns the data.yaml path (or root, without one).
    """
    root = str(root)
    splits = []
    for i, (key, text) in enumerate(labels.items()):
        split, name = key.split('/')
        splits += [split] if split not in splits else []
        write_image(osp.join(root, 'images', split, name), *(sizes or {}).get(key, (64, 48)),
                    seed=i)
        os.makedirs(osp.join(root, 'labels', split), exist_ok=True)
        if text is not None:
            with open(osp.join(root, 'labels', split, osp.splitext(name)[0] + '.txt'), 'w') as f:
                f.write(text)
    if classes_txt is not None:
        with open(osp.join(root, 'labels', 'classes.txt'), 'w') as f:
            f.write(''.join(f'{name}\n' for name in classes_txt))
    if yaml_text is None and names is not None:
        yaml_text = ''.join(f'{split}: images/{split}\n' for split in splits)
        yaml_text += f'nc: {len(names)}\nnames: {list(names)}\n'
    if yaml_text is None:
        return root
    with open(osp.join(root, 'data.yaml'), 'w') as f:
        f.write(yaml_text)
    return osp.join(root, 'data.yaml')
