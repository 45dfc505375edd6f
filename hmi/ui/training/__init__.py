"""Training mode in the HMI (docs/TRAINING.md): menu entry, dialog, marks on every screen."""

from hmi.ui.training.controller import TrainingController, install_training

__all__ = ["TrainingController", "install_training"]
