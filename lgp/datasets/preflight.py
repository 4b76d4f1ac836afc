"""Check that the files a config will read exist before anything is built, and name every missing one at once.

``tools/train.py`` and ``tools/test.py`` call :func:`check_input_paths` right after merging the command line, so a
missing data set or checkpoint ends in a short message (what is missing, the layout expected there, the converter
that writes it or the option that sets its path) instead of a traceback from inside mmengine. Data set paths are
resolved as mmengine's ``BaseDataset._join_prefix`` does: ``ann_file`` and each ``data_prefix`` entry are joined to
``data_root`` unless absolute. Dataset wrappers (``dataset=...``, ``datasets=[...]``) are followed; remote paths
(``s3://``, ``http://``, ...) are not checked.
"""

import os
import os.path as osp
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmengine.fileio import join_path
from mmengine.utils import is_abs

DIGITS_CONVERTER = 'python tools/dataset_converters/digits_to_imagenet.py'
DIGITS_ADE20K_CONVERTER = 'python tools/dataset_converters/digits_to_ade20k.py'
ADE_DIR = 'ADEChallengeData2016'
# the layouts of the public data sets, by dataset type; {root} is the data_root
PUBLIC_LAYOUTS = {
    'ADE20KDataset': f'ADE20K (SceneParsing, {ADE_DIR}.zip), {{root}}/{{{{images,annotations}}}}/'
    '{{training,validation}}/*.{{jpg,png}}: RGB .jpg images and one-channel .png label maps of the same names',
    'ImageNet': 'ImageNet-1k, {root}/{{train,val}}/<wnid>/*.JPEG (one folder per class), or an annotation file '
    '(ann_file) of `<path> <label>` lines, paths relative to data_prefix',
}


class MissingInputError(FileNotFoundError):
    """Files or folders a config reads do not exist; the message says which, what belongs there and how to fix it."""


@dataclass
class _Missing:
    """One missing path, the config keys that name it, the layout expected there and how to provide it."""

    path: str
    kind: str  # 'folder' or 'file'
    keys: list[str] = field(default_factory=list)
    layout: str = ''
    commands: list[str] = field(default_factory=list)  # converters that write it
    options: list[str] = field(default_factory=list)  # --cfg-options assignments that set it

    def render(self) -> str:
        lines = [f'- {self.path}: no such {self.kind} (set by {", ".join(self.keys)})']
        if self.layout:
            lines.append(f'    expected: {self.layout}')
        lines += [f'    write it: {command}' for command in self.commands]
        if self.options:
            lead = 'or use another path' if self.commands else 'fix'
            lines.append(f'    {lead}: --cfg-options {" ".join(self.options)}')
        return '\n'.join(lines)


def _type_name(cfg: Mapping) -> str:
    """The class name of a config's ``type``: a class, or a registry name with or without its scope."""
    kind = cfg.get('type', '')
    return kind.rsplit('.', 1)[-1] if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


def _join(root: str, path: str) -> str:
    """``path`` as mmengine's ``_join_prefix`` resolves it against ``data_root``."""
    return join_path(root, path) if root and not is_abs(path) else path


def _is_remote(path: str) -> bool:
    return '://' in path


def _leaf_datasets(cfg: Mapping, key: str) -> Iterator[tuple[str, Mapping]]:
    """The dataset configs under ``cfg``, through wrappers (``dataset=`` / ``datasets=[...]``), with their keys."""
    inner = [(f'{key}.dataset', cfg['dataset'])] if isinstance(cfg.get('dataset'), Mapping) else []
    if isinstance(cfg.get('datasets'), list | tuple):
        inner += [(f'{key}.datasets.{i}', d) for i, d in enumerate(cfg['datasets']) if isinstance(d, Mapping)]
    if not inner:
        yield key, cfg
    for inner_key, inner_cfg in inner:
        yield from _leaf_datasets(inner_cfg, inner_key)


def _layout(name: str, cfg: Mapping, root: str, ann_file: str, prefix: str, new: bool) -> tuple[str, list[str]]:
    """The layout a data set type expects (its paths filled in) and, for a ``new`` (missing) data_root, the
    converters that write it."""
    if name == 'DigitsADE20KDataset':
        out_dir = osp.dirname(root.rstrip('/')) if osp.basename(root.rstrip('/')) == ADE_DIR else 'OUT_DIR'
        layout = f"lgp's digits segmentation set in ADE20K's layout, {root}/{{images,annotations}}/"
        return layout + '{training,validation}/*.{jpg,png}', [f'{DIGITS_ADE20K_CONVERTER} {out_dir or "."}']
    if name in ('CustomDataset', 'ImageNet') and new and 'digits' in osp.basename(root.rstrip('/')):
        layout = f"lgp's digits set, {root}/{{train,val}}/digit_<d>/*.png with annotation files {root}/meta/"
        return layout + '{train,val}.txt of `train/digit_3/00012.png 3` lines', [f'{DIGITS_CONVERTER} {root}']
    if name in PUBLIC_LAYOUTS:
        return PUBLIC_LAYOUTS[name].format(root=root), []
    if name == 'CustomDataset' and ann_file:
        lines = '`<path> <label>` lines' if cfg.get('with_label', True) else 'one image path a line'
        return f'annotation file {ann_file} of {lines}, image paths relative to {prefix or "the working directory"}', []
    if name == 'CustomDataset':
        return f'{prefix}/<class>/<image>: one sub-folder of images per class (or an annotation file, ann_file)', []
    return f'what {name} reads from data_root, ann_file and data_prefix (see its documentation)', []


def _dataset_inputs(cfg: Mapping, key: str) -> Iterator[_Missing]:
    """The missing paths of one (non-wrapper) dataset config; under a missing data_root only data_root itself."""
    name = _type_name(cfg)
    root = os.fspath(cfg.get('data_root') or '')
    ann_file = os.fspath(cfg.get('ann_file') or '')
    prefixes = cfg.get('data_prefix', '')
    if isinstance(prefixes, Mapping):
        prefixes = {f'data_prefix.{k}': v for k, v in prefixes.items()}
    elif name == 'ImageNet' and cfg.get('split') and not prefixes:
        prefixes = {'data_root': cfg['split']}  # mmpretrain's ImageNet reads data_root/<split>
    else:
        prefixes = {'data_prefix': prefixes}
    prefixes = {k: os.fspath(v) for k, v in prefixes.items() if isinstance(v, str | os.PathLike)}
    # (raw path, kind, option); ann_file and prefixes are resolved against data_root
    paths = [(ann_file, 'file', 'ann_file')] + [(v, 'folder', k) for k, v in prefixes.items()]
    resolved = [(_join(root, raw), kind, option, bool(root) and not is_abs(raw)) for raw, kind, option in paths if raw]
    if root:
        resolved.insert(0, (root, 'folder', 'data_root', False))
    root_missing = bool(root) and not _is_remote(root) and not osp.isdir(root)
    image_prefix = next(iter(prefixes.values()), '')
    image_prefix = _join(root, image_prefix) if image_prefix else root
    layout, commands = _layout(name, cfg, root, _join(root, ann_file) if ann_file else '', image_prefix, root_missing)
    for path, kind, option, under_root in resolved:
        if _is_remote(path) or (root_missing and under_root):
            continue
        if not (osp.isdir(path) if kind == 'folder' else osp.exists(path)):
            yield _Missing(path, kind, [f'{key}.{option}'], layout, commands, [f'{key}.{option}=PATH'])


def _model_checkpoints(node: Any, key: str) -> Iterator[tuple[str, str]]:
    """(config key, path) of every ``checkpoint=`` path under ``node`` (dicts and lists): the ``Pretrained``
    init_cfgs, a grafted model's ``step1`` parts."""
    if isinstance(node, Mapping):
        checkpoint = node.get('checkpoint')
        if isinstance(checkpoint, str | os.PathLike):
            yield f'{key}.checkpoint', os.fspath(checkpoint)
        for k, v in node.items():
            yield from _model_checkpoints(v, f'{key}.{k}')
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            yield from _model_checkpoints(v, f'{key}.{i}')


def check_input_paths(
    cfg: Mapping,
    loaders: Sequence[str] = ('train_dataloader', 'val_dataloader', 'test_dataloader'),
    checkpoints: bool = True,
    files: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`MissingInputError` naming every missing input of ``cfg``; return if there is none.

    Args:
        cfg: an mmengine config (or dict).
        loaders: the dataloader configs to check (an absent or ``None`` one is skipped).
        checkpoints: check every ``checkpoint=`` path in ``cfg.model`` (init_cfgs, step1) and ``load_from``.
        files: further files to check, ``{how it is set: path}``, e.g. a tool's checkpoint argument.
    """
    found: dict[str, _Missing] = {}

    def add(missing: _Missing) -> None:
        entry = found.setdefault(missing.path, _Missing(missing.path, missing.kind, layout=missing.layout))
        for name in ('keys', 'commands', 'options'):
            getattr(entry, name).extend(v for v in getattr(missing, name) if v not in getattr(entry, name))

    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if isinstance(loader_cfg, Mapping) and isinstance(loader_cfg.get('dataset'), Mapping):
            for key, dataset in _leaf_datasets(loader_cfg['dataset'], f'{loader}.dataset'):
                for missing in _dataset_inputs(dataset, key):
                    add(missing)
    named = [(label, path, []) for label, path in (files or {}).items()]
    if checkpoints:
        named += [(key, path, [f'{key}=PATH']) for key, path in _model_checkpoints(cfg.get('model'), 'model')]
        if isinstance(cfg.get('load_from'), str | os.PathLike):
            named.append(('load_from', os.fspath(cfg['load_from']), ['load_from=PATH']))
    for key, path, options in named:
        if not _is_remote(path) and not osp.isfile(path):
            add(_Missing(path, 'file', [key], options=options))
    if found:
        header = f'Missing inputs; nothing was built (relative paths are relative to {os.getcwd()}):'
        raise MissingInputError('\n'.join([header, *(m.render() for m in found.values())]))
