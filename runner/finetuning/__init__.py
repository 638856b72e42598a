"""Fine-tuning a search's best model: ``FinetuneConfig``, the search's split found again, the end-to-end model with
augmentation in front, unfreezing the top blocks, the per-epoch checkpoint, registering only an improvement. May
import data, features, plugins, tracking and use."""
