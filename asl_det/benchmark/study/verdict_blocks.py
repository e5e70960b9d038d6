"""A study's verdicts in README.md and docs/*.md: compact tables generated between markers.

A document never types a study's figures; it holds a block that the study rewrites::

    <!-- study-table: configs/bccd/study -->
    (generated from configs/bccd/study/records)
    <!-- /study-table -->

Each marker stands on a line of its own (an indented or inline one is an example, not a
block). The opening marker names the study directory, relative to the repository, and, where
the study is reported with another baseline or primary set than the defaults, ``baseline=NAME``
and ``primary=A,B,C``. The block holds the primary comparisons of the study's ``results.md``
(the same cells and the same Holm family as
:func:`~asl_det.benchmark.study.report.comparison_table`), without AP50 and the unadjusted p,
and a link to that report. A marker may name several study directories (the same comparisons
on several data sets): one table, a ``study`` column first, each study's rows Holm-adjusted
over that study's comparisons in the block (its report's family where the marker's primary set is
the report's). ``tools/study.py`` rewrites the blocks that name
its study after each report (:func:`update_documents`); a test regenerates every block from the
committed records.
"""
import glob
import math
import os.path as osp
import re
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from asl_det.atomic_files import write_atomic
from asl_det.benchmark.analysis.tables import format_table

from .records import load_records
from .report import _diff_ci, _p, _pm, _variants_in
from .statistics import summarise
from .variants import BASELINE, PRIMARY_VARIANTS

#: The documents whose blocks a study rewrites, relative to the repository.
DOCUMENTS = ('README.md', osp.join('docs', '*.md'))
CLOSE = '<!-- /study-table -->'
#: Markers count only on a line of their own (not indented, as in an example in a code block).
OPEN = re.compile(r'^<!-- study-table: (?P<args>[^>]*?) -->$', re.MULTILINE)
CLOSE_LINE = re.compile(rf'^{re.escape(CLOSE)}$', re.MULTILINE)


class Block(NamedTuple):
    """One block of a document: ``text[start:end]`` runs from its opening marker through its
    closing one."""
    study_dirs: Tuple[str, ...]
    baseline: str
    primary: Tuple[str, ...]
    start: int
    end: int


def _normalise(study_dir: str) -> str:
    return osp.normpath(study_dir).replace(osp.sep, '/')


def marker(study_dirs: Union[str, Sequence[str]], baseline: str = BASELINE,
           primary: Sequence[str] = PRIMARY_VARIANTS) -> str:
    """The opening marker of a block for a study directory (or several); options only where
    not the defaults."""
    args = [_normalise(d) for d in ([study_dirs] if isinstance(study_dirs, str) else study_dirs)]
    if baseline != BASELINE:
        args.append(f'baseline={baseline}')
    if tuple(primary) != tuple(PRIMARY_VARIANTS):
        args.append('primary=' + ','.join(primary))
    return f'<!-- study-table: {" ".join(args)} -->'


def find_blocks(text: str, doc: str = 'document') -> List[Block]:
    """The blocks of ``text`` in order (markers on lines of their own); ValueError naming
    ``doc`` and the line of a marker that is not closed before the next one opens, or that has
    an unknown option."""
    blocks = []
    matches = list(OPEN.finditer(text))
    for index, match in enumerate(matches):
        line = text.count('\n', 0, match.start()) + 1
        limit = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        close = CLOSE_LINE.search(text, match.end(), limit)
        if close is None:
            raise ValueError(f'{doc}:{line}: study-table marker without its closing {CLOSE} '
                             'on a line of its own')
        words = match.group('args').split()
        study_dirs = tuple(_normalise(word) for word in words if '=' not in word)
        options = [word for word in words if '=' in word]
        if not study_dirs or len(set(study_dirs)) < len(study_dirs):
            raise ValueError(f'{doc}:{line}: a study-table marker names one or more different '
                             f'study directories, got {words}')
        settings = dict(baseline=BASELINE, primary=','.join(PRIMARY_VARIANTS))
        for option in options:
            key, sep, value = option.partition('=')
            if not sep or key not in settings or not value:
                raise ValueError(f'{doc}:{line}: study-table options must be baseline=NAME or '
                                 f'primary=A,B,...; got {option!r}')
            settings[key] = value
        blocks.append(Block(study_dirs, settings['baseline'],
                            tuple(settings['primary'].split(',')), match.start(),
                            close.end()))
    return blocks


def _cells(records: Sequence[Dict], baseline: str, primary: Sequence[str]) -> list:
    """The primary cells of one study (:func:`~.statistics.summarise`, Holm over them)."""
    variants = _variants_in(records, [v for v in primary if v != baseline])
    if not variants:
        raise ValueError(f'primary must name recorded variants other than the baseline '
                         f'{baseline!r}, got {list(primary)}')
    return summarise(records, 'bbox_mAP', baseline, variants)


def verdict_table(records: Union[Sequence[Dict], Mapping[str, Sequence[Dict]]],
                  baseline: str = BASELINE, primary: Sequence[str] = PRIMARY_VARIANTS) -> str:
    """Markdown table of the primary comparisons, one row per (condition, variant) with the
    baseline's row first in each condition: seeds, box AP (mean ± std over seeds), the mean
    paired difference to ``baseline`` with its t-based 95% CI, the Holm-adjusted p (over these
    cells, as in ``results.md``) and the verdict. ``records``: one study's, or ``{study dir:
    records}`` for several, each adjusted apart, under a ``study`` column."""
    studies = records if isinstance(records, Mapping) else {None: records}
    return _table({study: _cells(study_records, baseline, primary)
                   for study, study_records in studies.items()}, baseline)


def _table(cells_by_study: Mapping, baseline: str) -> str:
    """The markdown table of :func:`verdict_table` from each study's cells (:func:`_cells`);
    a ``study`` column where there are several."""
    several = len(cells_by_study) > 1
    header = ['condition', 'variant', 'seeds', 'box AP (mean ± std)',
              f'Δ box AP vs {baseline} [95% CI]', 'p (Holm)', 'verdict']
    rows = [[study] * several + [
        cell.condition, cell.variant, len(cell.seeds), _pm(cell.mean, cell.std),
        _diff_ci(cell), _p(cell.p_adjusted), cell.verdict]
        for study, cells in cells_by_study.items() for cell in cells]
    return format_table(['study'] * several + header, rows, markdown=True)


def render_block(studies: Mapping[str, Sequence[Dict]], doc_dir: str,
                 baseline: str = BASELINE, primary: Sequence[str] = PRIMARY_VARIANTS) -> str:
    """A whole block, markers included, for a document in ``doc_dir``: what the numbers are,
    the table, and a link to each study's report. ``studies``: ``{study dir: its records}``
    (paths relative to the repository, as ``doc_dir``), one or more."""
    studies = {_normalise(d): records for d, records in studies.items()}
    runs, tested, reports, cells_by_study = [], [], [], {}
    for study_dir, records in studies.items():
        if baseline not in {r['variant'] for r in records}:
            raise ValueError(f'{study_dir}: baseline must be a recorded variant, got '
                             f'{baseline!r}')
        configs = ', '.join(f'`{name}`' for name in sorted({r.get('config', '?')
                                                              for r in records}))
        schedules = ' / '.join(sorted({str(r['iterations']) for r in records}, key=int))
        runs.append(f'{configs}, {schedules} training iterations per run')
        cells_by_study[study_dir] = _cells(records, baseline, primary)
        tested.append(sum(math.isfinite(c.p_adjusted) for c in cells_by_study[study_dir]))
        link = osp.relpath(osp.join(study_dir, 'results.md'), doc_dir or '.')
        reports.append(f'[{study_dir}/results.md]({link.replace(osp.sep, "/")})')
    if len(studies) == 1:
        family = f'adjusted over the {tested[0]} comparisons of this table'
    else:
        family = ('adjusted over the comparisons of each study shown here (' + ' and '.join(
            f'{n}' for n in tested) + ')')
    caption = (f'COCO box AP on the evaluation split ({"; ".join(runs)}). Δ: mean paired '
               f'difference over the seeds a variant shares with {baseline}, with its t-based '
               f'95% CI; p (Holm): {family}; better / worse only where it is below 0.05. '
               f'Generated from the records by '
               f'`tools/study.py --report-only`; full report{"s" * (len(studies) > 1)}: '
               f'{", ".join(reports)}.')
    return '\n'.join([marker(list(studies), baseline, primary), caption, '',
                      _table(cells_by_study, baseline), CLOSE])


def rewrite_blocks(text: str, doc: str, doc_dir: str, records_of,
                   study_dir: Optional[str] = None, baseline: Optional[str] = None,
                   primary: Optional[Sequence[str]] = None) -> str:
    """``text`` with its blocks regenerated: every block, or those naming ``study_dir`` only;
    with the markers' baseline and primary, or ``baseline`` / ``primary`` where given (written
    into the markers).
    ``records_of(study_dir)`` gives a study's records; ``doc`` names the document in errors."""
    pieces, position = [], 0
    for block in find_blocks(text, doc):
        if study_dir is not None and _normalise(study_dir) not in block.study_dirs:
            continue
        studies = {d: records_of(d) for d in block.study_dirs}
        empty = [d for d, records in studies.items() if not records]
        if empty:
            raise ValueError(f'{doc}: study-table {", ".join(empty)} has no records')
        pieces += [text[position:block.start], render_block(
            studies, doc_dir, block.baseline if baseline is None else baseline,
            block.primary if primary is None else tuple(primary))]
        position = block.end
    return ''.join(pieces + [text[position:]])


def document_paths(repo: str) -> List[str]:
    """The documents of :data:`DOCUMENTS` that exist under ``repo``, absolute."""
    return [path for pattern in DOCUMENTS for path in sorted(glob.glob(osp.join(repo, pattern)))]


def repo_records(repo: str):
    """``records_of`` for :func:`rewrite_blocks`: the records under ``repo/<study_dir>/records``."""
    def records_of(study_dir: str) -> List[Dict]:
        return load_records(osp.join(repo, study_dir, 'records'))
    return records_of


def update_documents(repo: str, study_dir: str, records: Sequence[Dict],
                     baseline: Optional[str] = None,
                     primary: Optional[Sequence[str]] = None) -> List[str]:
    """Rewrite the blocks naming ``study_dir`` (a path as given on the command line) in the
    documents under ``repo`` from ``records`` (a block's other studies: from their records
    under ``repo``), with each marker's baseline and primary unless ``baseline`` / ``primary``
    are given (then written into the markers); returns the documents that changed."""
    relative = _normalise(osp.relpath(osp.abspath(study_dir), osp.abspath(repo)))
    committed = repo_records(repo)
    changed = []
    for path in document_paths(repo):
        with open(path, encoding='utf-8') as f:
            text = f.read()
        doc = osp.relpath(path, repo)
        new = rewrite_blocks(text, doc, osp.dirname(doc),
                             lambda d: list(records) if d == relative else committed(d),
                             relative, baseline, primary)
        if new != text:
            write_atomic(new, path)
            changed.append(path)
    return changed
