"""LP-FT: start fine-tuning from a linear probe (Kumar et al., "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution", ICLR 2022)."""

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS
from torch import nn

from lgp.evaluation.logistic_regression import fit_logistic_regression


def classifier_layer(model: nn.Module) -> nn.Linear:
    """The last ``nn.Linear`` of ``model.head``: the layer that maps features to class scores."""
    linears = [m for m in model.head.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(f'{type(model.head).__name__} has no nn.Linear layer to initialise as a linear probe.')
    return linears[-1]


@HOOKS.register_module()
class LinearProbeInitHook(Hook):
    """Before fine-tuning, set the classifier layer to a logistic regression fitted on the frozen features.

    A head drawn at random (MAE's recipe: std 2e-5) sends large, random gradients into the pre-trained encoder in the
    first iterations, and on a small set the encoder can lose what the linear probe reads from it before the head has
    learnt anything. LP-FT fits the head first: the inputs z_i (D) of the classifier layer are computed once for the
    whole training set with the val transform, in eval mode, and standardised per dimension (z' = (z - mu) / sigma,
    for the conditioning of the fit); then V (C x D) and c (C) minimise (1/n) sum_i CE(V z'_i + c, y_i) +
    (l2 / 2) ||[V c]||^2 by L-BFGS (:func:`lgp.evaluation.fit_logistic_regression` on [z', 1]), and the layer gets the
    same map on z: W = V / sigma, b = c - W mu. Fine-tuning then starts from the linear probe's accuracy. A departure
    from MAE's fine-tuning recipe, for small sets (the CPU twin): every rank extracts the features of the whole
    training set.

    Not re-fitted on resume (the resumed head is kept). The random generators are restored afterwards, so the
    training run draws what it would without the hook.

    Args:
        l2: lambda of the penalty, on the mean-loss objective.
        batch_size: images per feature-extraction batch.
    """

    priority = 'LOW'

    def __init__(self, l2: float = 1e-4, batch_size: int = 256) -> None:
        if l2 <= 0:
            raise ValueError(f'l2 must be positive (the fit needs a strictly convex objective), got {l2}.')
        self.l2 = l2
        self.batch_size = batch_size

    def before_train(self, runner: Runner) -> None:
        if runner.iter > 0:
            runner.logger.info('LinearProbeInitHook: resumed run, the classifier layer is kept as loaded.')
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        layer = classifier_layer(model)
        loader_cfg = dict(
            batch_size=self.batch_size,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(runner.cfg.train_dataloader.dataset, pipeline=runner.cfg.val_dataloader.dataset.pipeline),
        )
        with torch.random.fork_rng(devices=[]):
            features, labels = self._classifier_inputs(model, layer, Runner.build_dataloader(loader_cfg, seed=0))
        mean, std = features.mean(0), features.std(0).clamp_min(1e-6)
        standardised = torch.cat([(features - mean) / std, torch.ones(len(features), 1, dtype=features.dtype)], 1)
        fit = fit_logistic_regression(standardised, labels, self.l2, num_classes=layer.out_features)
        weight = fit.weight[:, :-1] / std  # W (x - mu) / sigma + c = (W / sigma) x + (c - (W / sigma) mu)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(fit.weight[:, -1] - weight @ mean)
        top1 = (fit.logits(standardised).argmax(1) == labels).double().mean().item() * 100
        runner.logger.info(
            f'LinearProbeInitHook: classifier layer fitted on {len(labels)} frozen training features '
            f'(l2 {self.l2:g}, {fit.n_iter} L-BFGS iterations): training top-1 {top1:.1f} %.'
        )

    @staticmethod
    def _classifier_inputs(
        model: nn.Module, layer: nn.Linear, loader: torch.utils.data.DataLoader
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs of ``layer`` (N, D) in float64 and the labels (N,), in eval mode without gradients."""
        captured = []
        handle = layer.register_forward_pre_hook(lambda _, args: captured.append(args[0].detach().double().cpu()))
        was_training = model.training
        model.eval()
        labels = []
        try:
            with torch.no_grad():
                for batch in loader:
                    data = model.data_preprocessor(batch, False)
                    model(data['inputs'], data['data_samples'], mode='predict')
                    labels += [int(s.gt_label) for s in data['data_samples']]
        finally:
            handle.remove()
            model.train(was_training)
        return torch.cat(captured), torch.tensor(labels)
