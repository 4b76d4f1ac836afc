"""mmengine's Runner with strict checkpoint loading for ``load_from`` and ``resume``."""

from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..models.checkpoint import check_state_dict, safe_load, unwrap


@RUNNERS.register_module()
class StrictRunner(Runner):
    """A ``Runner`` whose ``load_from`` / ``resume`` refuse a checkpoint that does not fit the model.

    mmengine loads them with ``strict=False``: missing weights stay at their initialisation and extra ones are
    ignored, with only a warning, so resuming from another architecture's checkpoint "works". Here the checkpoint
    is checked first and :class:`lgp.models.checkpoint.CheckpointMismatchError` names every missing, unexpected
    and mis-shaped key; nothing is loaded. Files are read with ``weights_only=True`` (code-running pickles refused).
    """

    def load_checkpoint(self, filename: str, map_location: str = 'cpu', strict: bool = True, revise_keys=None):
        model = self.model.module if hasattr(self.model, 'module') else self.model
        check_state_dict(model, unwrap(safe_load(filename)), source=filename)
        kwargs = {} if revise_keys is None else {'revise_keys': revise_keys}
        return super().load_checkpoint(filename, map_location=map_location, strict=True, **kwargs)
