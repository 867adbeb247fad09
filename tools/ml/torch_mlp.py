"""A small multi-layer perceptron in torch with the scikit-learn estimator interface.

Example:
    >>> clf = TorchMLPClassifier(hidden_units=32, epochs=5).fit(X, y)   # doctest: +SKIP
    >>> clf.predict_proba(X[:2])                                        # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from torch import nn


class _TorchMLP(BaseEstimator):
    def __init__(self, hidden_units: int = 64, n_layers: int = 2, learning_rate: float = 1e-3,
                 weight_decay: float = 1e-4, dropout: float = 0.1, batch_size: int = 64, epochs: int = 50,
                 random_state: int | None = None):
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.batch_size = batch_size
        self.epochs = epochs
        self.random_state = random_state

    def _network(self, n_in: int, n_out: int) -> nn.Module:
        layers: list[nn.Module] = []
        width = n_in
        for _ in range(int(self.n_layers)):
            layers += [nn.Linear(width, int(self.hidden_units)), nn.ReLU(), nn.Dropout(float(self.dropout))]
            width = int(self.hidden_units)
        layers.append(nn.Linear(width, n_out))
        return nn.Sequential(*layers)

    def _train(self, X: np.ndarray, target: torch.Tensor, n_out: int, loss_fn: nn.Module) -> None:
        if int(self.n_layers) < 1 or int(self.hidden_units) < 1 or int(self.epochs) < 1:
            raise ValueError("n_layers, hidden_units and epochs must be >= 1")
        generator = torch.Generator().manual_seed(int(self.random_state or 0))
        torch.manual_seed(int(self.random_state or 0))
        features = torch.as_tensor(np.asarray(X, dtype=np.float32))
        self.net_ = self._network(features.shape[1], n_out)
        optimizer = torch.optim.AdamW(self.net_.parameters(), lr=float(self.learning_rate),
                                      weight_decay=float(self.weight_decay))
        batch = max(1, int(self.batch_size))
        self.net_.train()
        for _ in range(int(self.epochs)):
            order = torch.randperm(len(features), generator=generator)
            for start in range(0, len(features), batch):
                idx = order[start:start + batch]
                optimizer.zero_grad()
                loss = loss_fn(self.net_(features[idx]), target[idx])
                loss.backward()
                optimizer.step()
        self.net_.eval()

    def _forward(self, X: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return self.net_(torch.as_tensor(np.asarray(X, dtype=np.float32)))


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):
    def fit(self, X, y):
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self._train(X, torch.as_tensor(codes, dtype=torch.long), len(self.classes_), nn.CrossEntropyLoss())
        return self

    def predict_proba(self, X) -> np.ndarray:
        return torch.softmax(self._forward(X), dim=1).numpy().astype(np.float64)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class TorchMLPRegressor(RegressorMixin, _TorchMLP):
    def fit(self, X, y):
        y = np.asarray(y, dtype=np.float64)
        # A standardized target keeps one learning-rate range sensible for every scale of y.
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        target = torch.as_tensor(((y - self.y_mean_) / self.y_std_).reshape(-1, 1), dtype=torch.float32)
        self._train(X, target, 1, nn.MSELoss())
        return self

    def predict(self, X) -> np.ndarray:
        return self._forward(X).numpy().ravel().astype(np.float64) * self.y_std_ + self.y_mean_
