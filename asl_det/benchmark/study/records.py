"""Study records: one small JSON file per finished run, the unit the study resumes by.

Layout: ``<records_dir>/<condition>/<variant>_seed<seed>.json``. A record is written only after
its run has been trained and evaluated, through a temporary file and a rename
(:func:`asl_det.atomic_files.write_atomic`), so a killed study leaves either a complete record or
none, and two studies writing one record at once leave one of theirs.
"""
import glob
import json
import os.path as osp
from typing import Dict, List

from asl_det.atomic_files import write_atomic

#: Keys every record has (``tests`` and the statistics rely on them).
RECORD_KEYS = ('variant', 'condition', 'seed', 'metrics', 'loss_cls', 'iterations',
               'wall_time_s', 'versions')


def record_path(records_dir: str, condition: str, variant: str, seed: int) -> str:
    """Where the record of (condition, variant, seed) lives."""
    return osp.join(records_dir, condition, f'{variant}_seed{seed}.json')


def write_record(records_dir: str, record: Dict) -> str:
    """Write ``record`` atomically to its :func:`record_path`; returns the path."""
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f'record lacks the keys {missing}')
    path = record_path(records_dir, record['condition'], record['variant'], record['seed'])
    return write_atomic(json.dumps(record, indent=1, sort_keys=True) + '\n', path)


def load_records(records_dir: str) -> List[Dict]:
    """Every record under ``records_dir`` (sorted by condition, variant, seed); none where the
    folder does not exist (yet).

    Raises:
        ValueError: a file lacks a record's keys, or lies elsewhere than its
            :func:`record_path` (a copied or renamed record would count a run twice, or
            overwrite another seed's value in its cell).
    """
    records = []
    for path in sorted(glob.glob(osp.join(records_dir, '*', '*_seed*.json'))):
        with open(path) as f:
            record = json.load(f)
        missing = [key for key in RECORD_KEYS if key not in record]
        if missing:
            raise ValueError(f'{path}: not a study record, it lacks {missing}')
        expected = record_path(records_dir, record['condition'], record['variant'],
                               record['seed'])
        if osp.normpath(path) != osp.normpath(expected):
            raise ValueError(f'{path}: holds the record of {record["condition"]} '
                             f'{record["variant"]} seed {record["seed"]}, whose file is '
                             f'{expected}')
        records.append(record)
    return sorted(records, key=lambda r: (r['condition'], r['variant'], r['seed']))
