from .atomic_file_backend import AtomicLocalBackend, register_atomic_local_backend
from .checkpoint_compat import register_trusted_checkpoint_loaders

__all__ = ['AtomicLocalBackend', 'register_atomic_local_backend',
           'register_trusted_checkpoint_loaders']
