"""GlyphDetectionDataset reads the generated benchmark; the demo configs match its classes."""
import os.path as osp

from mmengine.config import Config

from asl_det.benchmark.glyphs import GLYPH_CLASSES, generate_glyph_detection
from asl_det.datasets import GlyphDetectionDataset

DEMO_CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'demo')


def test_dataset_loads_generated_split(tmp_path):
    data = generate_glyph_detection(tmp_path / 'glyphs', num_train=6, num_val=3, seed=1)
    dataset = GlyphDetectionDataset(
        data_root=data['root'], ann_file=data['train_ann_file'],
        data_prefix=dict(img=data['train_img_prefix']), pipeline=[],
        filter_cfg=dict(filter_empty_gt=False))
    assert len(dataset) == 6
    assert dataset.metainfo['classes'] == GLYPH_CLASSES
    assert len(dataset.metainfo['palette']) == len(GLYPH_CLASSES)
    item = dataset[0]
    assert osp.exists(item['img_path']) and item['instances']
    assert all(0 <= inst['bbox_label'] < len(GLYPH_CLASSES) for inst in item['instances'])


def test_demo_configs_match_the_benchmark_classes():
    for variant in ('focal', 'asl', 'asl_adaptive'):
        cfg = Config.fromfile(osp.join(DEMO_CONFIGS, f'retinanet_glyphs_{variant}.py'))
        assert cfg.model.bbox_head.num_classes == len(GLYPH_CLASSES)
        assert cfg.train_dataloader.dataset.type == 'GlyphDetectionDataset'


def test_demo_configs_that_train_on_glyphs_import_the_dataset():
    """``import asl_det`` does not register the data set: each glyph config imports its module."""
    import glob
    import importlib

    from mmdet.registry import DATASETS
    configs = sorted(glob.glob(osp.join(DEMO_CONFIGS, '*.py')))
    glyph_configs = [path for path in configs if Config.fromfile(
        path).train_dataloader.dataset.type == 'GlyphDetectionDataset']
    assert len(glyph_configs) >= 7
    for path in glyph_configs:
        imports = Config.fromfile(path).custom_imports.imports
        assert 'asl_det' in imports and 'asl_det.datasets.glyph_dataset' in imports, path
    module = importlib.import_module('asl_det.datasets.glyph_dataset')
    assert DATASETS.get('GlyphDetectionDataset') is module.GlyphDetectionDataset
