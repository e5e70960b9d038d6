"""The study: ASL variants against focal loss, over seeds, on clean and missing-annotation data.

    python tools/study.py                          # the README's grid (resumes from its records)
    python tools/study.py --variants focal asl_paper --seeds 0 1 2 --missing-fractions 0 0.5
    python tools/study.py --report-only            # the table and plot from the records alone

Each finished run writes ``<records-dir>/<condition>/<variant>_seed<seed>.json``; runs that have
a record are skipped. The table (``<out>/results.md``) and plot (``<out>/study.png``) are
regenerated from all records in ``--records-dir`` at the end.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction

from asl_det.benchmark.study import (
    BASELINE,
    DEFAULT_VARIANTS,
    VARIANTS,
    StudyRunsFailed,
    StudySettings,
    complete_records,
    load_records,
    run_study,
    study_table,
    verdict_lines,
    write_study_report,
)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDY_DIR = osp.join(REPO, 'configs', 'demo', 'study')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--variants', nargs='+', default=list(DEFAULT_VARIANTS),
                        choices=sorted(VARIANTS), metavar='VARIANT',
                        help=f'loss variants (asl_det/benchmark/study/variants.py): '
                        f'{", ".join(VARIANTS)}')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--missing-fractions', type=float, nargs='+', default=[0.0, 0.5],
                        help='one annotation condition per value: share of train boxes removed '
                        '(0 = clean), in [0, 1)')
    parser.add_argument('--iters', type=int, default=800, help='training iterations per run')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=500)
    parser.add_argument('--workers', type=int, default=None,
                        help='runs trained at the same time (default: one per CPU core on CPU, '
                        '1 on CUDA)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--config', default=osp.join(REPO, 'configs', 'demo',
                                                     'retinanet_glyphs_focal.py'),
                        help='baseline detector config; variants replace its loss_cls')
    parser.add_argument('--records-dir', default=osp.join(STUDY_DIR, 'records'))
    parser.add_argument('--out', default=STUDY_DIR, help='where results.md and study.png go')
    parser.add_argument('--work-dir', default='work_dirs/study', help='run work dirs and logs')
    parser.add_argument('--data-root', default='data/glyphs', help='generated data (cached)')
    parser.add_argument('--min-seeds', type=int, default=3,
                        help='seeds a variant needs in every condition to enter the table')
    parser.add_argument('--baseline', default=BASELINE, choices=sorted(VARIANTS),
                        help='the variant the table pairs every other against')
    parser.add_argument('--report-only', action='store_true',
                        help='train nothing: regenerate the table and plot from the records')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override keys of every run config, as in tools/train.py')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not args.report_only:
        settings = StudySettings(
            config_file=args.config, records_dir=args.records_dir, work_root=args.work_dir,
            data_root=args.data_root, variants=args.variants, seeds=args.seeds,
            missing_fractions=args.missing_fractions, max_iters=args.iters,
            num_train=args.num_train, num_val=args.num_val, device=args.device,
            workers=args.workers or ((os.cpu_count() or 1) if args.device == 'cpu' else 1),
            cfg_options=dict(args.cfg_options))
        try:
            run_study(settings)
        except (ValueError, StudyRunsFailed) as error:
            sys.exit(f'[study] {error}')
    records = load_records(args.records_dir) if osp.isdir(args.records_dir) else []
    if not records:
        sys.exit(f'[study] no records in {args.records_dir}')
    command = 'python tools/study.py --report-only'
    if osp.abspath(args.records_dir) != osp.join(STUDY_DIR, 'records'):
        command += f' --records-dir {args.records_dir}'
    if osp.abspath(args.out) != STUDY_DIR:
        command += f' --out {args.out}'
    if args.min_seeds != 3:
        command += f' --min-seeds {args.min_seeds}'
    if args.baseline != BASELINE:
        command += f' --baseline {args.baseline}'
    try:
        paths = write_study_report(records, args.out, command, min_seeds=args.min_seeds,
                                   baseline=args.baseline)
    except ValueError as error:
        sys.exit(f'[study] {error}')
    records, incomplete = complete_records(records, args.min_seeds)
    print('\n' + study_table(records, markdown=False, baseline=args.baseline) + '\n\n'
          + '\n'.join(verdict_lines(records, args.baseline)))
    for variant, seeds in incomplete.items():
        print(f'[study] not in the table yet: {variant}, seeds per condition {seeds}')
    print(f"\n[study] table: {paths['report']}\n[study] plot: {paths['plot']}")


if __name__ == '__main__':
    main()
