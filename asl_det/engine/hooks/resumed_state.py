"""A hook's state saved in checkpoints and restored when training resumes, not on ``load_from``.

mmengine calls ``after_load_checkpoint`` for ``load_from`` (weights to fine-tune from) and for
``--resume`` alike, and sets the resumed iteration only afterwards; by ``before_train`` the
iteration says which it was (0: not resumed).
"""
from typing import Optional


class ResumedState:
    """Mixin for an mmengine ``Hook``: saves :meth:`state_dict` under ``checkpoint[STATE_KEY]``
    and hands the entry of a resumed checkpoint to :meth:`load_state_dict` in ``before_train``
    (None where that checkpoint has no entry). Subclasses set ``STATE_KEY`` and define both
    methods; one that defines ``before_train`` too calls ``super().before_train(runner)``."""

    STATE_KEY: str = ''
    _loaded_state: Optional[tuple] = None  # (the checkpoint's entry,) until before_train

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, state: Optional[dict], runner) -> None:
        raise NotImplementedError

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[self.STATE_KEY] = self.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded_state = (checkpoint.get(self.STATE_KEY),)  # applied if training resumes

    def before_train(self, runner) -> None:
        loaded, self._loaded_state = self._loaded_state, None
        if loaded is not None and runner.iter > 0:
            self.load_state_dict(loaded[0], runner)
