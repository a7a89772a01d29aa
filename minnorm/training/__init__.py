"""minnorm's training layer: shallow ReLU networks and populations of them, trained by GD, SGD
or Adam with weight decay (PyTorch, and a compiled CPU path), and their conversion to functions.

Names load on first use, so importing this package does not import torch.
"""

from minnorm._lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "ShallowReLU": "minnorm.training.network",
    "Population": "minnorm.training.population",
    "TrainResult": "minnorm.training.loop",
    "TrainingDiverged": "minnorm.training.loop",
    "train": "minnorm.training.loop",
    "train_population": "minnorm.training.loop",
    "loss_and_grad": "minnorm.training.objective",
    "lr_sequence": "minnorm.training.options",
    "limit_reference": "minnorm.training.limits",
    "solver_lam": "minnorm.training.limits",
    "variant_for": "minnorm.training.limits",
    "random_features_ridge": "minnorm.training.random_features",
    "ridge_lam": "minnorm.training.random_features",
    "to_function": "minnorm.training.convert",
    "rebalance": "minnorm.training.convert",
    "parameter_cost": "minnorm.training.convert",
})
