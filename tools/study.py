"""The study: ASL variants against focal loss, paired over seeds, on any COCO-format data set.

    python tools/study.py --config CONFIG --study-dir DIR                  # train here, report
    python tools/study.py --config CONFIG --study-dir DIR --print-commands # a line per run
    python tools/study.py --config CONFIG --study-dir DIR --collect        # after a cluster
    python tools/study.py --study-dir DIR --report-only                    # from the records

CONFIG is any mmdet dense-detector config trained with FocalLoss (file or ``mmdet::`` path).
Each run is ``python tools/train.py <run config> --work-dir ... [--skip-bad-images, --train-args]
--cfg-options randomness.seed=S`` (``--print-commands`` lines run as printed: they ``cd`` to this
checkout and name this interpreter); each finished run becomes
``DIR/records/<condition>/<variant>_seed<seed>.json``, and runs with a record are skipped.
``DIR/results.md`` (primary and exploratory tables, per-class AP, learning curves) and its plots
are regenerated from all records at the end, and so are the verdict tables that README.md and
docs/*.md show for DIR (between ``<!-- study-table: DIR -->`` and ``<!-- /study-table -->``).
"""
import argparse
import os
import os.path as osp
import runpy
import shlex
import signal
import sys

from asl_det.benchmark.study import (
    BASELINE,
    DEFAULT_VARIANTS,
    PRIMARY_VARIANTS,
    VARIANTS,
    StudyRunsFailed,
    StudySettings,
    collect_study,
    load_records,
    print_commands,
    run_study,
    write_study_report,
)
from asl_det.benchmark.study.report import check_primary
from asl_det.benchmark.study.variants import load_variant_file, parse_variant
from asl_det.benchmark.study.verdict_blocks import update_documents
from asl_det.launch.runtime import KeyValueAction

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
GLYPH_CONFIG = osp.join(REPO, 'configs', 'demo', 'retinanet_glyphs_focal.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=GLYPH_CONFIG,
                        help='baseline detector config (FocalLoss); variants replace its loss_cls')
    parser.add_argument('--study-dir', required=True,
                        help='records/ and the report (results.md, plots) go here')
    parser.add_argument('--variants', nargs='+', default=None, metavar='VARIANT',
                        help=f'variants to train, named (asl_det/benchmark/study/variants.py: '
                        f'{", ".join(VARIANTS)}) or defined by --variant / --variant-file; '
                        f'default: {" ".join(DEFAULT_VARIANTS)}, or the baseline and the '
                        'defined ones when any are defined')
    parser.add_argument('--variant', nargs='+', action='append', default=[],
                        metavar=('NAME', 'KEY=VALUE'),
                        help='define a variant: NAME then KEY=VALUE pairs; base=VARIANT starts '
                        'from a named one (default: AsymmetricLoss with its defaults), prior=P '
                        'sets the classifier prior, any other key an argument of loss_cls. '
                        'Example: --variant asl_g3_c10 gamma_neg=3 clip=0.1 prior=0.1. Repeatable')
    parser.add_argument('--variant-file', default=None,
                        help='a config file (.py/.json/.yaml) defining variants = dict(NAME=dict('
                        'loss_cls=..., prior=..., hooks=[...]))')
    parser.add_argument('--seeds', type=int, nargs='+', default=list(StudySettings.seeds))
    parser.add_argument('--missing-fractions', type=float, nargs='+',
                        default=list(StudySettings.missing_fractions),
                        help='one annotation condition per value: share of train boxes removed '
                        'per image (0 = as labelled), in [0, 1)')
    parser.add_argument('--data-seed', type=int, default=StudySettings.data_seed,
                        help='which boxes are removed')
    parser.add_argument('--iters', type=int, default=None,
                        help='training iterations per run (IterBasedTrainLoop configs; decay '
                        "milestones scaled); default: the config's")
    parser.add_argument('--evaluations', type=int, default=None,
                        help="evaluations over the schedule (the learning curve); default: the "
                        "config's val_interval")
    parser.add_argument('--workers', type=int, default=None,
                        help='runs trained at the same time (default: one per CPU core on CPU, '
                        'one per GPU on CUDA)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--work-dir', default=None,
                        help='run configs and work dirs (default: work_dirs/study/<config name>-'
                        '<8 hex digits of the records dir>: one per study)')
    parser.add_argument('--baseline', default=None,
                        help=f'the variant every other is paired against (default: {BASELINE}; '
                        'given, also written into the README verdict tables of the study)')
    parser.add_argument('--primary', nargs='+', default=None, metavar='VARIANT',
                        help='the comparisons named before the runs (the report tests them '
                        'apart, Holm within them); default: '
                        f'{" ".join(PRIMARY_VARIANTS)}')
    parser.add_argument('--cfg-options', nargs='+', action=KeyValueAction, default={},
                        help='override keys of the config before the variants apply, as in '
                        'tools/train.py')
    parser.add_argument('--skip-bad-images', action='store_true',
                        help='every run trains without the images its pre-flight check cannot '
                        'decode (tools/train.py --skip-bad-images); each record names them')
    parser.add_argument('--train-args', default='', metavar='"ARGS"',
                        help='more tools/train.py options for every run, as one string, e.g. '
                        '--train-args="--amp --auto-scale-lr" (not --work-dir, --cfg-options, '
                        '--resume, --launcher: the study sets them); recorded in each record')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--print-commands', action='store_true',
                      help='write the run configs and print one tools/train.py line per pending '
                      'run (for a job array or any queue; a run stopped part-way gets --resume '
                      'from its last checkpoint, a finished one is collected, the work dir of '
                      'any other is emptied for it); train nothing')
    mode.add_argument('--collect', action='store_true',
                      help='train nothing: record the finished work dirs, then report')
    mode.add_argument('--report-only', action='store_true',
                      help='train nothing: regenerate the report from the records')
    args = parser.parse_args(argv)
    args.baseline_given = args.baseline is not None  # a verdict table keeps its own otherwise
    if args.baseline is None:
        args.baseline = BASELINE
    return args


def default_workers(device: str) -> int:
    if device == 'cpu':
        return os.cpu_count() or 1
    import torch
    return max(1, torch.cuda.device_count())


def defined_variants(args) -> dict:
    """The user's variants of ``--variant-file`` and ``--variant`` (ValueError on a name
    defined twice)."""
    defined = load_variant_file(args.variant_file) if args.variant_file else {}
    for name, *assignments in args.variant:
        if name in defined:
            raise ValueError(f'variant {name} is defined twice')
        defined[name] = parse_variant(name, assignments)
    return defined


def settings_of(args) -> StudySettings:
    defined = defined_variants(args)
    variants = args.variants
    if variants is None:
        variants = ([args.baseline, *(name for name in defined if name != args.baseline)]
                    if defined else list(DEFAULT_VARIANTS))
    unused = [name for name, *_ in args.variant if name not in variants]
    if unused:
        raise ValueError(f'variant (--variant) {", ".join(unused)} is defined but not among '
                         f'variants (--variants {" ".join(variants)}): add it there or leave '
                         'out --variants')
    if args.primary is not None:
        check_primary(args.primary, variants, args.baseline)
    records_dir = osp.join(args.study_dir, 'records')
    # the report pairs every variant with the baseline: run now, or recorded before
    if args.baseline not in variants and \
            args.baseline not in {r['variant'] for r in load_records(records_dir)}:
        raise ValueError(f'baseline (--baseline) {args.baseline} is neither among the variants '
                         f'({" ".join(variants)}) nor recorded in {records_dir}')
    return StudySettings(
        config_file=args.config, records_dir=records_dir,
        work_root=args.work_dir, defined_variants=defined,
        variants=variants, seeds=args.seeds, missing_fractions=args.missing_fractions,
        max_iters=args.iters, evaluations=args.evaluations, data_seed=args.data_seed,
        workers=default_workers(args.device) if args.workers is None else args.workers,
        device=args.device,
        cfg_options=dict(args.cfg_options), train_args=train_args_of(args))


def train_args_of(args) -> list:
    """The ``tools/train.py`` options of every run: ``--skip-bad-images``, then
    ``--train-args`` split as a shell would; ValueError for one ``tools/train.py`` does not
    take (every run would fail on it)."""
    try:
        train_args = shlex.split(args.train_args)
    except ValueError as error:
        raise ValueError(f'--train-args {args.train_args!r}: {error}') from None
    parser = runpy.run_path(osp.join(REPO, 'tools', 'train.py'))['build_parser']()
    parser.exit_on_error = False
    try:
        _, unknown = parser.parse_known_args(['CONFIG', *train_args])
    except argparse.ArgumentError as error:
        raise ValueError(f'--train-args: {error}') from None
    if unknown:
        raise ValueError(f'--train-args: {" ".join(unknown)}: not options of tools/train.py')
    return ['--skip-bad-images'] * args.skip_bad_images + train_args


def _exit_on_sigterm(signum, frame):
    """A SIGTERM (a queue's kill, ``timeout``) unwinds like Ctrl-C: the runs in training are
    terminated, not left behind."""
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parse_args(argv)
    log = print if not args.print_commands else (lambda line: print(line, file=sys.stderr))
    try:
        if args.print_commands:
            print('\n'.join(print_commands(settings_of(args), log)))
            return
        if args.collect:
            collect_study(settings_of(args), log)
        elif not args.report_only:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            run_study(settings_of(args), log)
    except (ValueError, FileNotFoundError, StudyRunsFailed) as error:
        sys.exit(f'[study] {error}')
    records_dir = osp.join(args.study_dir, 'records')
    records = load_records(records_dir)
    if not records:
        sys.exit(f'[study] no records in {records_dir}')
    command = f'python tools/study.py --study-dir {args.study_dir} --report-only'
    if args.baseline != BASELINE:
        command += f' --baseline {args.baseline}'
    primary = PRIMARY_VARIANTS if args.primary is None else tuple(args.primary)
    if args.primary is not None:
        command += ' --primary ' + ' '.join(args.primary)
    try:
        if args.primary is not None:
            check_primary(args.primary, sorted({r['variant'] for r in records}), args.baseline)
        paths = write_study_report(records, args.study_dir, command, baseline=args.baseline,
                                   primary=primary)
        # a marker keeps its own baseline= / primary= unless they are given here
        for doc in update_documents(REPO, args.study_dir, records,
                                    args.baseline if args.baseline_given else None,
                                    args.primary):
            print(f'[study] verdict table rewritten in {osp.relpath(doc, REPO)}')
    except ValueError as error:
        sys.exit(f'[study] {error}')
    print(f'[study] {len(records)} records; report: {paths["report"]}')
    with open(paths['report']) as f:
        print(f.read())


if __name__ == '__main__':
    main()
