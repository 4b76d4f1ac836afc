"""Install lgp: ``pip install -e .`` (``-r requirements/tests.txt`` adds the test tools)."""

from pathlib import Path

from setuptools import find_packages, setup


def read_requirements(name: str) -> list[str]:
    """Requirement lines of ``requirements/<name>.txt``, without comments and ``-r`` includes."""
    lines = (Path(__file__).parent / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(('#', '-r'))]


setup(
    name='lgp',
    version='0.1.0',
    description='Layer Grafted Pre-training of Vision Transformers (MAE -> MoCo v3), OpenMMLab style',
    long_description=Path(__file__).with_name('README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['lgp', 'lgp.*']),
    python_requires='>=3.10',
    install_requires=read_requirements('runtime'),
    extras_require={'tests': read_requirements('tests'), 'optional': read_requirements('optional')},
    license='Apache-2.0',
)
