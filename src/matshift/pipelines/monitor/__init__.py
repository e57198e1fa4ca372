from matshift.pipelines.monitor.pipeline import create_pipeline

__all__ = ["create_pipeline"]
