"""Run tracking: MLflow logging driven by Kedro hooks, so nodes never call MLflow."""
