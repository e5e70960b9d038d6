"""How the tools start a run: mmdet's ``tools/train.py`` / ``tools/test.py`` options as functions,
CPU distributed set-up and the checked runner build (:mod:`.runtime`)."""
