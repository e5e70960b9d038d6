"""asl_det.checkpoint's safe loading, in process: mmengine checkpoints load weights-only with the
allowlist, exactly as a full unpickling would; a pickle that would run code is refused without
running it, by the loader and by mmengine's loaders once a tool installed ours (local and URL
paths); a file outside the allowlist loads only when trusted."""
import functools
import http.server
import os.path as osp
import re
import threading

import pytest
import torch
from checkpoint_files import (
    assert_same_content,
    write_malicious_checkpoint,
    write_trusted_legacy_checkpoint,
)
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader
from toy_runner import toy_runner

from asl_det.checkpoint import (
    CHECKPOINT_GLOBALS,
    NotACheckpointError,
    UntrustedCheckpointError,
    checkpoint_is_intact,
    load_checkpoint_file,
    safe_loading,
    use_safe_checkpoint_loader,
)
from asl_det.checkpoint.safe_loading import unlisted_globals

MALICIOUS = [  # (payload, legacy format, the global the refusal names)
    ('system', False, 'posix.system'),
    ('exec', False, 'builtins.exec'),
    ('system', True, 'posix.system'),
]


@pytest.fixture(scope='module')
def toy_checkpoint(tmp_path_factory):
    """An mmengine Runner checkpoint (message hub, optimizer, schedulers) of 2 toy iterations."""
    work_dir = tmp_path_factory.mktemp('toy')
    toy_runner(work_dir, 2).train()
    return str(work_dir / 'iter_2.pth')


@pytest.fixture
def safe_mmengine_loader():
    """mmengine loading through asl_det's loader (as the tools install it), untrusted after."""
    use_safe_checkpoint_loader()
    yield
    use_safe_checkpoint_loader(trust=False)


def test_allowlist_loads_mmengine_checkpoints_as_a_full_unpickling(toy_checkpoint):
    with pytest.raises(Exception, match='weights_only|Unsupported global'):
        torch.load(toy_checkpoint)  # torch's default (weights-only, no allowlist) refuses it
    assert unlisted_globals(toy_checkpoint) == []
    loaded = load_checkpoint_file(toy_checkpoint, map_location='cpu')
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert loaded['meta']['iter'] == 2
    assert_same_content(loaded, torch.load(toy_checkpoint, map_location='cpu',
                                           weights_only=False))
    process_wide = torch.serialization.get_safe_globals()  # the allowlist was scoped to the load
    assert not [entry for entry in CHECKPOINT_GLOBALS if entry in process_wide]


@pytest.mark.parametrize('kind,legacy,needed', MALICIOUS)
def test_code_running_checkpoint_is_refused_and_never_runs(tmp_path, kind, legacy, needed):
    marker = tmp_path / 'marker'
    path = write_malicious_checkpoint(tmp_path / 'evil.pth', marker, kind, legacy)
    with pytest.raises(UntrustedCheckpointError) as error:
        load_checkpoint_file(path)
    message = str(error.value)
    assert f'refused to load {path}' in message and needed in message
    assert '--trust-checkpoint' in message
    # the opt-in that works where the refusal comes from: asl_det.apis takes trust=True itself
    assert 'tools/train.py, test.py, infer.py, compare.py' in message
    assert 'trust=True to asl_det.apis.init_detector or DetInferencer' in message
    if not legacy:  # listed before unpickling (the legacy format cannot be listed)
        assert f'it needs {needed}, outside' in message
    assert checkpoint_is_intact(path)  # --resume's check reads the file without unpickling it
    assert not marker.exists()


def test_getattr_reaches_only_history_buffer_statistics(tmp_path):
    class Attribute:
        def __init__(self, owner, name):
            self.owner, self.name = owner, name

        def __reduce__(self):
            return getattr, (self.owner, self.name)

    path = str(tmp_path / 'getattr.pth')
    for owner, name in ((HistoryBuffer, '__init__'), (HistoryBuffer.min, '__globals__')):
        torch.save(dict(meta=dict(note=Attribute(owner, name))), path)
        with pytest.raises(UntrustedCheckpointError, match=re.escape(f'{name!r}) is not allowed')):
            load_checkpoint_file(path)
    torch.save(dict(meta=dict(note=Attribute(HistoryBuffer, 'mean'))), path)
    assert load_checkpoint_file(path)['meta']['note'] is HistoryBuffer.mean


def test_trust_loads_a_trusted_file_outside_the_allowlist(tmp_path, toy_checkpoint):
    base = load_checkpoint_file(toy_checkpoint)
    path = write_trusted_legacy_checkpoint(tmp_path / 'legacy.pth', base)
    with pytest.raises(UntrustedCheckpointError, match='mmengine.config.config.ConfigDict'):
        load_checkpoint_file(path)
    loaded = load_checkpoint_file(path, trust=True)
    assert loaded['meta']['cfg'].note == 'trusted'
    assert_same_content(loaded['state_dict'], base['state_dict'])


@pytest.mark.parametrize('content', [b'x', b'hello world', b'', b'{"state_dict": {}}'])
@pytest.mark.parametrize('trust', [False, True])
def test_a_file_that_is_no_checkpoint_is_named_so(tmp_path, content, trust):
    """Not reported as a checkpoint needing more than the allowlist (with the opt-in offered),
    nor, trusted, as the unpickler's KeyError."""
    path = tmp_path / 'w.pth'
    path.write_bytes(content)
    with pytest.raises(NotACheckpointError, match=f'{re.escape(str(path))} is not a PyTorch '
                       'checkpoint') as refusal:
        load_checkpoint_file(str(path), trust=trust)
    assert not isinstance(refusal.value, UntrustedCheckpointError)
    assert 'trust' not in str(refusal.value)


@pytest.mark.parametrize('protocol', [1, 2])  # (torch.load cannot read back protocol 0)
def test_legacy_checkpoints_of_pickle_protocols_1_and_2_are_checkpoints(tmp_path, protocol):
    """Protocol 1 (the file starts with LONG, not PROTO) is a checkpoint that torch's
    weights-only unpickler cannot read: refused as untrusted, loaded when trusted."""
    path = str(tmp_path / f'legacy{protocol}.pth')
    torch.save(dict(w=torch.arange(3.0)), path, pickle_protocol=protocol,
               _use_new_zipfile_serialization=False)
    if protocol < 2:
        with pytest.raises(UntrustedCheckpointError):
            load_checkpoint_file(path)
    else:
        assert load_checkpoint_file(path)['w'].tolist() == [0.0, 1.0, 2.0]
    assert load_checkpoint_file(path, trust=True)['w'].tolist() == [0.0, 1.0, 2.0]


def test_a_stream_is_read_from_where_it_was(toy_checkpoint):
    import io
    with open(toy_checkpoint, 'rb') as f:
        data = f.read()
    stream = io.BytesIO(b'junk' + data)
    stream.seek(4)
    assert set(load_checkpoint_file(stream)) == set(load_checkpoint_file(toy_checkpoint))


def test_installed_loader_refuses_through_mmengine(tmp_path, toy_checkpoint,
                                                    safe_mmengine_loader):
    marker = tmp_path / 'marker'
    evil = write_malicious_checkpoint(tmp_path / 'evil.pth', marker)
    with pytest.raises(UntrustedCheckpointError, match='posix.system'):
        CheckpointLoader.load_checkpoint(evil, map_location='cpu')
    assert CheckpointLoader.load_checkpoint(toy_checkpoint, map_location='cpu')['meta']['iter'] == 2
    use_safe_checkpoint_loader(trust=True)  # the last call holds
    use_safe_checkpoint_loader(trust=False)
    with pytest.raises(UntrustedCheckpointError):
        CheckpointLoader.load_checkpoint(evil, map_location='cpu')
    assert not marker.exists()
    with pytest.raises(TypeError, match='trust must be True or False'):
        use_safe_checkpoint_loader(trust='yes')


def test_config_text_mmengine_would_run_on_resume_is_left_out_unless_trusted(
        tmp_path, toy_checkpoint, safe_mmengine_loader):
    """mmengine's Runner.resume runs meta['config'] with Config.fromstring: a weights-only
    file could carry code there; resumed untrusted, it does not run."""
    marker = tmp_path / 'ran'
    checkpoint = torch.load(toy_checkpoint, weights_only=False)
    checkpoint['meta']['config'] = f"gpu_ids = [__import__('os').system('touch {marker}')]\n"
    path = str(tmp_path / 'iter_2.pth')
    torch.save(checkpoint, path)
    loaded = load_checkpoint_file(path)
    assert 'config' not in loaded['meta'] and loaded['meta']['iter'] == 2
    assert load_checkpoint_file(path, trust=True)['meta']['config'] == checkpoint['meta']['config']
    runner = toy_runner(tmp_path / 'resumed', 3)
    runner.resume(path)
    assert runner.iter == 2 and not marker.exists()


def test_installed_loader_refuses_a_downloaded_checkpoint(tmp_path, toy_checkpoint,
                                                          safe_mmengine_loader, monkeypatch):
    """mmengine's own http loader unpickles downloads fully (torch.hub, weights_only=False)."""
    served = tmp_path / 'served'
    served.mkdir()
    marker = tmp_path / 'marker'
    write_malicious_checkpoint(served / 'evil.pth', marker)
    (served / 'good.pth').write_bytes(open(toy_checkpoint, 'rb').read())
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))  # torch hub's download cache
    for proxy in ('no_proxy', 'NO_PROXY'):  # a proxy set for the machine: not for this server
        monkeypatch.setenv(proxy, '127.0.0.1,localhost')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f'http://127.0.0.1:{server.server_address[1]}'
    try:
        with pytest.raises(UntrustedCheckpointError, match='posix.system'):
            CheckpointLoader.load_checkpoint(f'{url}/evil.pth', map_location='cpu')
        loaded = CheckpointLoader.load_checkpoint(f'{url}/good.pth', map_location='cpu')
    finally:
        server.shutdown()
        server.server_close()
    assert not marker.exists()
    assert_same_content(loaded, load_checkpoint_file(toy_checkpoint))
    assert osp.isfile(tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'good.pth')


@pytest.mark.parametrize('index', range(len(CHECKPOINT_GLOBALS)))
def test_every_allowed_global_is_needed(toy_checkpoint, monkeypatch, index):
    """The allowlist is exact: without any one of its entries the checkpoint is refused."""
    fewer = CHECKPOINT_GLOBALS[:index] + CHECKPOINT_GLOBALS[index + 1:]
    monkeypatch.setattr(safe_loading, 'CHECKPOINT_GLOBALS', fewer)
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(toy_checkpoint)
