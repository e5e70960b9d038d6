"""Packaging for asl_det: Asymmetric Loss for MMDetection 3.x single-stage detectors."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version():
    namespace = {}
    with open(osp.join(HERE, 'asl_det', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements():
    with open(osp.join(HERE, 'requirements.txt')) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name='asl_det',
    version=read_version(),
    description='Asymmetric Loss (ICCV 2021) for MMDetection single-stage detectors',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(
        osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['asl_det', 'asl_det.*']),
    python_requires='>=3.8',
    install_requires=read_requirements(),
    extras_require={
        # the glyph benchmark and the study: data, plots, the statistics over seeds
        'benchmark': ['matplotlib>=3.7', 'scikit-learn>=1.3', 'scikit-image>=0.22', 'scipy>=1.10',
                      'statsmodels>=0.14'],
        'tests': ['pytest>=7', 'pytest-xdist>=3', 'ruff>=0.6'],
    },
    license='Apache-2.0',
)
