# Copyright (c) memvid_mm contributors. All rights reserved.
import os.path as osp

from setuptools import find_packages, setup

# files are read from the checkout, wherever setup.py is run from
HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    """Read ``__version__`` from ``memvid_mm/version.py``."""
    scope = {}
    with open(
            osp.join(HERE, 'memvid_mm', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Read a requirements file, skipping comments and blank lines."""
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line for line in lines if line and not line.startswith('-')]


setup(
    name='memvid_mm',
    version=get_version(),
    description='Memory Warps (MemNet / ClockNet): online memory-based '
    'video object detection for MMDetection 3.x',
    long_description=open(osp.join(HERE, 'README.md'),
                          encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=('memvid_mm', 'memvid_mm.*')),
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(tests=parse_requirements('requirements/tests.txt')),
    license='Apache License 2.0',
    zip_safe=False)
