"""Follow representation quality during pre-training: the weighted kNN top-1 of the online encoder's features."""

import copy

import torch
import torch.nn as nn
from mmengine.dataset import default_collate
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import DATASETS, HOOKS
from torch.utils.data import DataLoader, Subset

from ...evaluation.feature_extraction import extract_features
from ...evaluation.knn import knn_top1
from ...utils import preserved_rng_states

KNN_SCALAR = 'knn/top1'  # the name of the logged top-1


def evenly_spaced(size: int, max_images: int | None) -> list[int]:
    """Indices floor(i size / m), i < m = min(max_images, size): a fixed subset spread over the whole list, so a
    class-sorted list keeps every class in proportion."""
    count = size if max_images is None else min(max_images, size)
    return [i * size // count for i in range(count)]


def encode_cls_tokens(
    backbone: nn.Module, data_preprocessor: nn.Module, dataloader: DataLoader
) -> tuple[torch.Tensor, torch.Tensor]:
    """The CLS token after the final norm of every image, unmasked (:func:`lgp.evaluation.extract_features` with
    ``backbone.forward_tokens``, in eval mode, each module's mode restored after).

    Args:
        backbone: an :class:`lgp.models.LGPViT` (``forward_tokens``), whatever its ``out_type``.
        data_preprocessor: normalises ``dict(inputs=(B, C, H, W) uint8, data_samples=[...])`` batches and moves them
            to the model's device (the algorithm's ``SelfSupDataPreprocessor``).
        dataloader: batches with ``gt_label`` in the data samples.

    Returns:
        ``features`` (N, D) float32 and ``labels`` (N,) int64, on the CPU.
    """
    return extract_features(
        backbone,
        dataloader,
        data_preprocessor=data_preprocessor,
        encode=lambda images: backbone.forward_tokens(images, final_norm=True)[:, 0],
    )


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Every ``interval`` training epochs (and after the last), the weighted kNN top-1 (%) of the online encoder.

    Encodes a fixed labelled subset of a train and a val data set with ``runner.model.backbone`` (the CLS token after
    the final norm, no masking, eval mode: the project's frozen-encoder features), classifies the val features by
    their k nearest train features (:func:`lgp.evaluation.knn_top1`) and logs the accuracy as ``knn/top1`` through
    the runner's visualiser at step ``runner.iter`` (vis_data/scalars.json, TensorBoard when configured) and in a
    log line. The training run is not changed: the model's state and modes, and the ``random``, numpy, torch CPU
    and CUDA generators are as before each evaluation, so a run with the hook ends with the weights of one without,
    and a resumed run with those of an uninterrupted one.

    Made for epoch-based training loops (``EpochBasedTrainLoop``, every lgp pre-training). In distributed training
    rank 0 alone evaluates (the whole subset, no communication: the other ranks wait for it at their next
    collective); the data sets are built on rank 0 only.

    Args:
        train_dataset: the labelled images the kNN classifier votes with, an mmpretrain data set config with a
            deterministic test pipeline (e.g. ``CustomDataset`` over ``meta/train.txt``). Without ``data_root`` it
            takes ``train_dataloader.dataset.data_root`` of the run, so that moving the training data moves it too.
        val_dataset: the images it is scored on, likewise.
        max_train_images: train images used, evenly spaced over the data set (None: all).
        max_val_images: val images used, likewise.
        interval: evaluate after every ``interval`` epochs; the last epoch is always evaluated.
        eval_at_start: also evaluate before the first epoch of a run that starts at iteration 0 (the
            initialisation or ``load_from`` weights; not when resuming).
        k: neighbours (20).
        temperature: T of the weights exp(similarity / T) (0.07).
        batch_size: images per forward pass.
        num_workers: data-loading processes (0: the main process).
    """

    priority = 'NORMAL'

    def __init__(
        self,
        train_dataset: dict,
        val_dataset: dict,
        max_train_images: int | None = None,
        max_val_images: int | None = None,
        interval: int = 1,
        eval_at_start: bool = True,
        k: int = 20,
        temperature: float = 0.07,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}.')
        for name, value in (('max_train_images', max_train_images), ('max_val_images', max_val_images)):
            if value is not None and value < 1:
                raise ValueError(f'{name} must be >= 1 or None (all images), got {value}.')
        if k < 1 or temperature <= 0:
            raise ValueError(f'Expected k >= 1 and temperature > 0, got k={k}, temperature={temperature}.')
        self.dataset_cfgs = {'train': train_dataset, 'val': val_dataset}
        self.max_images = {'train': max_train_images, 'val': max_val_images}
        self.interval = interval
        self.eval_at_start = eval_at_start
        self.k = k
        self.temperature = temperature
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.dataloaders: dict[str, DataLoader] = {}

    def _build_dataloader(self, runner, split: str) -> DataLoader:
        """The loader of the fixed subset of ``split`` ('train' or 'val'), in data set order."""
        cfg = copy.deepcopy(dict(self.dataset_cfgs[split]))
        if cfg.get('data_root') is None:
            train_root = runner.cfg.get('train_dataloader', {}).get('dataset', {}).get('data_root')
            if train_root is not None:
                cfg['data_root'] = train_root
        try:
            dataset = DATASETS.build(cfg)
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f'KNNMonitorHook could not build its {split} data set ({error}): set {split}_dataset.data_root (or '
                'train_dataloader.dataset.data_root, which it follows), or drop the hook from custom_hooks.'
            ) from error
        subset = Subset(dataset, evenly_spaced(len(dataset), self.max_images[split]))
        if split == 'train' and len(subset) < self.k:
            raise ValueError(
                f'KNNMonitorHook has {len(subset)} train images for k={self.k} neighbours: lower k or raise '
                'max_train_images.'
            )
        return DataLoader(
            subset,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            collate_fn=default_collate,
            generator=torch.Generator().manual_seed(0),  # its iterators' base seeds, not the global generator's
        )

    def before_train(self, runner) -> None:
        if get_rank() != 0:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(getattr(model, 'backbone', None), 'forward_tokens'):
            raise TypeError(
                f'KNNMonitorHook encodes with model.backbone.forward_tokens (an lgp LGPViT); {type(model).__name__} '
                'has no such backbone: drop the hook from custom_hooks.'
            )
        with preserved_rng_states():
            self.dataloaders = {split: self._build_dataloader(runner, split) for split in ('train', 'val')}
        if self.eval_at_start and runner.iter == 0:
            self.evaluate(runner, epoch=0)

    def after_train_epoch(self, runner) -> None:
        if get_rank() == 0 and (self.every_n_epochs(runner, self.interval) or self.is_last_train_epoch(runner)):
            self.evaluate(runner, epoch=runner.epoch + 1)

    def evaluate(self, runner, epoch: int) -> float:
        """Encode both subsets, log the kNN top-1 (%) after ``epoch`` epochs at step ``runner.iter`` and return it."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        with preserved_rng_states():
            train = encode_cls_tokens(model.backbone, model.data_preprocessor, self.dataloaders['train'])
            val = encode_cls_tokens(model.backbone, model.data_preprocessor, self.dataloaders['val'])
        top1 = knn_top1(train[0], train[1], val[0], val[1], k=self.k, temperature=self.temperature)
        runner.visualizer.add_scalars({KNN_SCALAR: top1}, step=runner.iter)
        runner.logger.info(
            f'Epoch {epoch}: {KNN_SCALAR} {top1:.2f} % (k={self.k}, T={self.temperature}, {len(train[1])} train and '
            f'{len(val[1])} val images)'
        )
        return top1
