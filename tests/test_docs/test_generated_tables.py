"""Study figures in README.md and docs/*.md are generated, never typed: every verdict table
between ``study-table`` markers equals the one regenerated from the committed records, and no
figure that looks like a study's stands outside them, in the documents or in the configs."""
import difflib
import glob
import os.path as osp
import re

import pytest

from asl_det.benchmark.study.verdict_blocks import (
    document_paths,
    find_blocks,
    repo_records,
    rewrite_blocks,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOCUMENTS = [osp.relpath(path, REPO) for path in document_paths(REPO)]
CONFIGS = sorted(osp.relpath(path, REPO) for pattern in ('*.py', '*/*.py')
                 for path in glob.glob(osp.join(REPO, 'configs', pattern)))
#: What a study's figures look like when typed by hand: a paired difference with its interval
#: ("+0.011 [+0.002, +0.020]"), a signed box AP difference ("-0.023"), a Holm-adjusted or a
#: plain p-value ("Holm p 0.002", "Holm 0.136", "p 0.045", "p < 0.001").
STUDY_FIGURES = (re.compile(r'[+-]\d\.\d{3} \[[+-]?\d\.\d{3}, [+-]?\d\.\d{3}\]'),
                 re.compile(r'(?<![\w.])[+-]0\.\d{3}(?!\d)'),
                 re.compile(r'\bHolm:? (p )?[<=]? ?\d\.\d'),
                 re.compile(r'\bp (< ?)?0\.\d{3}(?!\d)'))


def read(relative):
    with open(osp.join(REPO, relative), encoding='utf-8') as f:
        return f.read()


def studies_shown(doc):
    return {study for block in find_blocks(read(doc), doc) for study in block.study_dirs}


def test_the_readme_shows_the_generated_verdict_tables():
    """The README's first screen: the confirmation on both data sets; the earlier studies'
    tables are in docs/studies.md."""
    assert {'configs/bccd/confirmation', 'configs/txl_pbc/confirmation'} <= studies_shown(
        'README.md')
    assert {'configs/bccd/study', 'configs/demo/study'} <= studies_shown(
        osp.join('docs', 'studies.md'))


@pytest.mark.parametrize('doc', DOCUMENTS)
def test_every_verdict_table_equals_its_records(doc):
    text = read(doc)
    expected = rewrite_blocks(text, doc, osp.dirname(doc), repo_records(REPO))
    if text != expected:
        diff = ''.join(difflib.unified_diff(text.splitlines(True), expected.splitlines(True),
                                            doc, 'regenerated from the records'))
        pytest.fail(f'{doc} differs from its records (run `python tools/study.py --study-dir '
                    f'DIR --report-only`, never edit a study-table block):\n{diff}')


def outside_blocks(text, doc):
    """``text`` with its generated blocks blanked (line numbers kept)."""
    for block in reversed(find_blocks(text, doc)):
        lines = text.count('\n', block.start, block.end)
        text = text[:block.start] + '\n' * lines + text[block.end:]
    return text


@pytest.mark.parametrize('path', DOCUMENTS + CONFIGS)
def test_no_study_figure_is_typed_outside_the_generated_tables(path):
    text = outside_blocks(read(path), path)
    typed = [f'{path}:{number}: {line.strip()}'
             for number, line in enumerate(text.splitlines(), 1)
             if any(pattern.search(line) for pattern in STUDY_FIGURES)]
    assert not typed, ('study figures typed by hand (point to the study\'s results.md, or show '
                       'a generated study-table block):\n' + '\n'.join(typed))


def test_the_figure_patterns_catch_what_was_typed_before():
    for line in ('+0.003 [-0.004, +0.011] at 10 seeds', 'falls 0.023 behind it (-0.023)',
                 'at 10 seeds that holds (Holm p 0.002)', '(p 0.045, Holm 0.136)'):
        assert any(pattern.search(line) for pattern in STUDY_FIGURES), line
    for line in ('clip 0.05, gamma_neg 4', 'p = 0.10', '0.6 to 0.8x eager BCE', '-0.05 at p 0.95',
                 'adjusted p < 0.05'):
        assert not any(pattern.search(line) for pattern in STUDY_FIGURES), line
