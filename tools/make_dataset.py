"""Write (or reuse) the built-in glyph detection benchmark.

    python tools/make_dataset.py --out data/glyphs
    python tools/make_dataset.py --out data/glyphs_missing30 --missing-label-fraction 0.3
"""
import argparse
import json
import time

from asl_det.datasets import generate_glyph_detection


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--num-train', type=int, default=2000, help='train images')
    parser.add_argument('--num-val', type=int, default=500, help='val images')
    parser.add_argument('--img-size', type=int, default=128, help='image side (px)')
    parser.add_argument('--min-objects', type=int, default=1, help='fewest glyphs per image')
    parser.add_argument('--max-objects', type=int, default=8, help='most glyphs per image')
    parser.add_argument('--min-size', type=int, default=16, help='smallest glyph box side (px)')
    parser.add_argument('--max-size', type=int, default=56, help='largest glyph box side (px)')
    parser.add_argument('--missing-label-fraction', type=float, default=0.0,
                        help='fraction of train labels to drop, in [0, 1)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--force', action='store_true', help='regenerate even if cached')
    parser.add_argument('--workers', type=int, default=2, help='processes drawing images')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    result = generate_glyph_detection(
        args.out, num_train=args.num_train, num_val=args.num_val, img_size=args.img_size,
        min_objects=args.min_objects, max_objects=args.max_objects, min_size=args.min_size,
        max_size=args.max_size, missing_label_fraction=args.missing_label_fraction,
        seed=args.seed, force=args.force, num_workers=args.workers)
    action = 'reused' if result['reused'] else 'generated'
    print(f'{action} {result["root"]} in {time.perf_counter() - start:.1f} s')
    print(json.dumps(result['manifest']['splits'], indent=2))


if __name__ == '__main__':
    main()
