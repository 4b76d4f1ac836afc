"""mmengine's Runner with strict checkpoint loading for ``load_from`` and ``resume``."""

from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..models.checkpoint import check_state_dict, safe_load, unwrap


@RUNNERS.register_module()
class StrictRunner(Runner):
    """A ``Runner`` whose ``load_from`` / ``resume`` refuse a checkpoint that does not fit the model.

    mmengine loads them with ``strict=False``: missing weights stay at their initialisation and extra ones are
    ignored, with only a warning, so resuming from another architecture's checkpoint "works". Here the checkpoint
    is checked first and :class:`lgp.models.checkpoint.CheckpointMismatchError` names every missing, unexpected
    and mis-shaped key; nothing is loaded. Files are read with ``weights_only=True`` (code-running pickles refused).
    """

    def load_checkpoint(
        self, filename: str, map_location: str = 'cpu', strict: bool = True, revise_keys: list | None = None
    ) -> dict:
        """mmengine's ``Runner.load_checkpoint``, reading the file once with :func:`safe_load` (on the CPU; the
        optimiser state moves to its parameters' device when loaded) and checking it before a strict load.

        ``map_location`` and ``strict`` are accepted for mmengine's callers and not used.
        """
        checkpoint = safe_load(filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        check_state_dict(model, unwrap(checkpoint), source=filename)
        revise_keys = [(r'^module.', '')] if revise_keys is None else revise_keys
        checkpoint = _load_checkpoint_to_model(model, checkpoint, strict=True, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
