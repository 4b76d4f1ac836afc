"""Figures of what models learnt: MAE reconstructions (:mod:`.reconstruction`), CLS attention maps and attention
rollout (:mod:`.attention_maps`), t-SNE maps of features (:mod:`.tsne`), loss and kNN curves
(:mod:`.training_curves`), and the inputs the tools feed the models (:mod:`.inputs`)."""

from .attention_maps import (
    HEAD_FUSIONS,
    EncoderAttention,
    attention_rollout,
    cls_attention,
    encoder_attention,
    patch_grid,
    plot_attention_maps,
)
from .inputs import (
    UNTRAINED,
    add_device_and_data_options,
    add_model_option,
    build_encoder,
    build_model,
    check_model_labels,
    check_num_images,
    data_preprocessor_config,
    first_images,
    normalise,
    to_pixels,
)
from .reconstruction import GREY, Reconstruction, mae_reconstruction, plot_reconstructions, unnormalise_patches
from .training_curves import plot_training_curves, read_scalars
from .tsne import PERPLEXITY, plot_embeddings, plot_tsne, tsne_embedding

__all__ = [
    'GREY',
    'HEAD_FUSIONS',
    'PERPLEXITY',
    'UNTRAINED',
    'EncoderAttention',
    'Reconstruction',
    'add_device_and_data_options',
    'add_model_option',
    'attention_rollout',
    'build_encoder',
    'build_model',
    'check_model_labels',
    'check_num_images',
    'cls_attention',
    'data_preprocessor_config',
    'encoder_attention',
    'first_images',
    'mae_reconstruction',
    'normalise',
    'patch_grid',
    'plot_attention_maps',
    'plot_embeddings',
    'plot_reconstructions',
    'plot_training_curves',
    'plot_tsne',
    'read_scalars',
    'to_pixels',
    'tsne_embedding',
    'unnormalise_patches',
]
