"""mmengine's Runner with strict checkpoint loading for ``load_from`` and ``resume``, and data loading seeded per
sample."""

import re

import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from ..datasets.seeded_sampling import SeededDataset, SeededInfiniteSampler, SeededSampler
from ..models.checkpoint import check_state_dict, read_model, safe_load

# mmengine's samplers (as classes or registry names) and their seeded versions
SEEDED_SAMPLERS = {
    **dict.fromkeys((DefaultSampler, 'DefaultSampler', 'mmengine.DefaultSampler'), SeededSampler),
    **dict.fromkeys((InfiniteSampler, 'InfiniteSampler', 'mmengine.InfiniteSampler'), SeededInfiniteSampler),
}


@RUNNERS.register_module()
class StrictRunner(Runner):
    """A ``Runner`` whose ``load_from`` / ``resume`` refuse a checkpoint that does not fit the model.

    mmengine loads them with ``strict=False``: missing weights stay at their initialisation and extra ones are
    ignored, with only a warning, so resuming from another architecture's checkpoint "works". Here the checkpoint
    is checked first and :class:`lgp.models.checkpoint.CheckpointMismatchError` names every missing, unexpected
    and mis-shaped key; nothing is loaded. Files are read with ``weights_only=True`` (code-running pickles refused).

    Its data loaders draw each sample's augmentation from (seed, epoch, sample index) only: a loader config with
    mmengine's ``DefaultSampler`` or ``InfiniteSampler`` gets the seeded sampler of
    :mod:`lgp.datasets.seeded_sampling` and its dataset the :class:`~lgp.datasets.SeededDataset` wrapper, so a
    resumed run augments as an uninterrupted one does, whatever the number of workers and whether they persist.
    """

    @staticmethod
    def build_dataloader(dataloader: DataLoader | dict, seed: int | None = None, diff_rank_seed: bool = False):
        """mmengine's ``Runner.build_dataloader``, seeding every sample's loading (see the class docstring)."""
        sampler = dataloader.get('sampler') if isinstance(dataloader, dict) else None
        seeded = SEEDED_SAMPLERS.get(sampler.get('type')) if isinstance(sampler, dict) else None
        if seeded is None or not isinstance(dataloader.get('dataset'), dict):
            return Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        dataloader = {
            **dataloader,
            'sampler': {**sampler, 'type': seeded},
            'dataset': dict(type=SeededDataset, dataset=dataloader['dataset']),
        }
        loader = Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        if loader.generator is None:
            # Each new iterator draws its workers' base seed from the global torch generator by default: a resumed
            # run with persistent workers (one iterator, made in its first epoch) would draw at another point than
            # an uninterrupted one and shift the model's random numbers. The loader's own generator leaves the
            # global one alone (the base seed matters little: every sample is seeded).
            loader.generator = torch.Generator().manual_seed(seed if seed is not None else torch.initial_seed())
        return loader

    def load_checkpoint(
        self, filename: str, map_location: str = 'cpu', strict: bool = True, revise_keys: list | None = None
    ) -> dict:
        """mmengine's ``Runner.load_checkpoint``, reading the file once with :func:`safe_load` (on the CPU; the
        optimiser state moves to its parameters' device when loaded) and loading it strictly, all or nothing.

        The state dict is read with :func:`lgp.models.checkpoint.read_model` (so ``load_from`` also takes the
        official MAE-with-decoder and MoCo v3 releases), renamed by ``revise_keys`` (``[(pattern, replacement)]``,
        ``re.sub`` on every key, mmengine's default strips DDP's ``module.``), then checked and loaded.
        ``map_location`` and ``strict`` are accepted for mmengine's callers and not used.
        """
        checkpoint = safe_load(filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        state_dict, layout, _ = read_model(checkpoint)
        for pattern, replacement in [(r'^module\.', '')] if revise_keys is None else revise_keys:
            state_dict = {re.sub(pattern, replacement, key): value for key, value in state_dict.items()}
        where = filename if layout == 'mmengine' else f'{filename} (layout {layout!r})'
        check_state_dict(model, state_dict, source=where)
        model.load_state_dict(state_dict, strict=True)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {where}')
        return checkpoint
