"""How the tools start a run: mmdet's ``tools/train.py`` / ``tools/test.py`` options as functions,
CPU distributed set-up, the checked runner build and the user errors the tools report in one line
(:mod:`.runtime`); the marker a training run keeps in its work dir (:mod:`.work_dir_lock`); the
list of images its pre-flight check skipped (:mod:`.skipped_images`)."""
