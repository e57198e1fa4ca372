"""MLflow pyfunc wrapper of the champion, so the model registry can hold it and serve it.

``predict`` takes the transfer design matrix (plus an optional ``group`` column) and returns the
prediction, the 90% interval, the OOD score and the ``uncertain`` flag with its reason.
"""

from __future__ import annotations

import pickle
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd


class ChampionPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        with open(context.artifacts["champion"], "rb") as handle:
            self.champion = pickle.load(handle)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        X = model_input.drop(columns="group", errors="ignore")
        groups = model_input["group"].to_numpy() if "group" in model_input else np.full(len(X), "", object)
        columns = self.champion.predict_with_uncertainty(X, groups)
        return pd.DataFrame({k: v for k, v in columns.items() if v is not None}, index=X.index)
