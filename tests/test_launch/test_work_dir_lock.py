"""asl_det.launch.work_dir_lock: a run's ``.running`` marker, live, stale or foreign."""
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest

from asl_det.launch.work_dir_lock import (
    MARKER,
    STARTING_S,
    WorkDirBusy,
    hold_work_dir,
    work_dir_user,
)

HOLDER = """
import sys, time
from asl_det.launch.work_dir_lock import hold_work_dir
with hold_work_dir(sys.argv[1]):
    print('held', flush=True)
    time.sleep(120)
"""


def start_holder(work_dir):
    """A process that holds ``work_dir``; returns it once the marker is written."""
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, work_dir], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline() == 'held\n'
    return holder


def test_a_held_work_dir_names_its_process_and_is_released_at_the_end(tmp_path):
    work_dir = str(tmp_path / 'run')
    assert work_dir_user(work_dir) is None  # no marker, no folder
    with hold_work_dir(work_dir) as marker:
        assert marker == osp.join(work_dir, MARKER)
        info = json.load(open(marker))
        assert (info['pid'], info['host']) == (os.getpid(), socket.gethostname())
        user = work_dir_user(work_dir)
        assert f'pid {os.getpid()} on {socket.gethostname()}' in user and marker in user
        with pytest.raises(WorkDirBusy, match=f'in use by another training run: pid '
                                              f'{os.getpid()}'):
            with hold_work_dir(work_dir):
                pass
        open(osp.join(work_dir, 'log.txt'), 'w').close()
    assert os.listdir(work_dir) == ['log.txt']  # the marker is gone, the run's files stay


def test_a_failed_run_leaves_no_folder_it_created(tmp_path):
    work_dir = str(tmp_path / 'run')
    with pytest.raises(RuntimeError):
        with hold_work_dir(work_dir):
            raise RuntimeError('config error')
    assert not osp.exists(work_dir)
    os.makedirs(work_dir)
    with hold_work_dir(work_dir):
        pass
    assert osp.isdir(work_dir)  # not created by the run: kept


def test_another_process_holding_it_is_live_until_it_dies(tmp_path):
    work_dir = str(tmp_path / 'run')
    holder = start_holder(work_dir)
    try:
        assert f'pid {holder.pid} on {socket.gethostname()}' in work_dir_user(work_dir)
        with pytest.raises(WorkDirBusy):
            with hold_work_dir(work_dir):
                pass
        holder.send_signal(signal.SIGKILL)  # no clean-up: the marker stays, its lock goes
        holder.wait(10)
        assert osp.isfile(osp.join(work_dir, MARKER))
        assert work_dir_user(work_dir) is None  # stale
        with hold_work_dir(work_dir):  # and taken over
            assert f'pid {os.getpid()} ' in work_dir_user(work_dir)
    finally:
        holder.kill()
        holder.wait()


def test_a_marker_of_another_host_counts_as_live(tmp_path):
    os.makedirs(tmp_path / 'run')
    (tmp_path / 'run' / MARKER).write_text(json.dumps(dict(pid=1, host='node-17',
                                                           started='2026-01-01T00:00:00')))
    assert 'pid 1 on node-17 since 2026-01-01' in work_dir_user(str(tmp_path / 'run'))
    with pytest.raises(WorkDirBusy, match='node-17.*If that run is dead, delete'):
        with hold_work_dir(str(tmp_path / 'run')):
            pass


def test_an_unreadable_marker_is_a_run_being_started_for_a_while(tmp_path):
    os.makedirs(tmp_path / 'run')
    marker = tmp_path / 'run' / MARKER
    marker.write_text('')
    assert 'being started' in work_dir_user(str(tmp_path / 'run'))
    old = time.time() - STARTING_S - 1
    os.utime(marker, (old, old))
    assert work_dir_user(str(tmp_path / 'run')) is None
