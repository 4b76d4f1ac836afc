"""mmengine's Runner with strict checkpoint loading for ``load_from`` and ``resume``, and data loading seeded per
sample."""

import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from ..datasets.seeded_sampling import SeededDataset, SeededInfiniteSampler, SeededSampler
from ..models.checkpoint import load_model_checkpoint, safe_load

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
        optimiser state moves to its parameters' device when loaded) and loading it with
        :func:`lgp.models.checkpoint.load_model_checkpoint`: strictly, all or nothing, the official MAE-with-decoder
        and MoCo v3 releases converted, ``revise_keys`` (mmengine's default strips DDP's ``module.``) applied before
        the check. ``map_location`` and ``strict`` are accepted for mmengine's callers and not used.
        """
        checkpoint = safe_load(filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        revise_keys = [(r'^module\.', '')] if revise_keys is None else revise_keys
        load_model_checkpoint(model, checkpoint, revise_keys=revise_keys, name=filename)
        self._has_loaded = True
        return checkpoint
