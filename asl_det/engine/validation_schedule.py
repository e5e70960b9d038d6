"""Where mmengine's train loops validate: after which iterations (``IterBasedTrainLoop``) or
epochs (``EpochBasedTrainLoop``) their ``run`` calls the val loop."""
import bisect
from typing import List, NamedTuple, Optional

#: The loops' ``val_interval`` when a config gives none.
DEFAULT_VAL_INTERVAL = {'iter': 1000, 'epoch': 1}


def counts_epochs(train_cfg) -> bool:
    """Whether the train loop a config's ``train_cfg`` builds counts epochs (else iterations),
    as mmengine's ``Runner.build_train_loop`` picks the loop: ``type`` names its class (looked up
    in mmdet's LOOPS registry, which falls back to mmengine's), else ``by_epoch``. A loop of
    neither family, or a ``train_cfg`` with neither key, counts by the length it is given
    (``max_iters`` without ``max_epochs``: iterations)."""
    from mmdet.registry import LOOPS
    from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
    loop_type = train_cfg.get('type')
    loop_class = LOOPS.get(loop_type) if isinstance(loop_type, str) else loop_type
    if isinstance(loop_class, type) and issubclass(loop_class, IterBasedTrainLoop):
        return False
    if isinstance(loop_class, type) and issubclass(loop_class, EpochBasedTrainLoop):
        return True
    if loop_type is None and 'by_epoch' in train_cfg:
        return bool(train_cfg['by_epoch'])
    return not ('max_iters' in train_cfg and 'max_epochs' not in train_cfg)


class ValidationSchedule(NamedTuple):
    """From ``val_begin`` on, every interval in force (``intervals[i]`` from ``milestones[i]``
    on, as mmengine's ``calc_dynamic_intervals`` gives them) and at ``end``; positions are
    iterations or epochs (``by_epoch``), 1-based."""
    end: int
    val_begin: int
    milestones: List[int]
    intervals: List[int]
    by_epoch: bool

    @classmethod
    def of_config(cls, train_cfg) -> 'ValidationSchedule':
        """From a config's ``train_cfg`` (the loop's kind: :func:`counts_epochs`)."""
        from mmengine.runner.utils import calc_dynamic_intervals
        by_epoch = counts_epochs(train_cfg)
        end = train_cfg['max_epochs'] if by_epoch else train_cfg['max_iters']
        interval = train_cfg.get('val_interval', DEFAULT_VAL_INTERVAL['epoch' if by_epoch
                                                                       else 'iter'])
        milestones, intervals = calc_dynamic_intervals(interval,
                                                       train_cfg.get('dynamic_intervals'))
        return cls(end, train_cfg.get('val_begin', 1), milestones, intervals, by_epoch)

    @classmethod
    def of_loop(cls, loop) -> Optional['ValidationSchedule']:
        """From a built ``IterBasedTrainLoop`` / ``EpochBasedTrainLoop`` (or a subclass); None
        for any other loop."""
        from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
        if isinstance(loop, IterBasedTrainLoop):
            end, by_epoch = loop.max_iters, False
        elif isinstance(loop, EpochBasedTrainLoop):
            end, by_epoch = loop.max_epochs, True
        else:
            return None
        return cls(end, loop.val_begin, list(loop.dynamic_milestones),
                   list(loop.dynamic_intervals), by_epoch)

    def validates_at(self, position: int) -> bool:
        """Whether the loop validates right after ``position`` (the interval in force is the
        one the loop picks there: ``bisect(milestones, position + 1)``)."""
        if position < max(1, self.val_begin) or position > self.end:
            return False
        interval = self.intervals[bisect.bisect(self.milestones, position + 1) - 1]
        return position == self.end or position % interval == 0

    def points(self, start: int = 1, stop: Optional[int] = None) -> List[int]:
        """The positions in ``[start, stop]`` (default: to ``end``) that validate."""
        stop = self.end if stop is None else stop
        return [p for p in range(max(start, 1), stop + 1) if self.validates_at(p)]
