from matshift.pipelines.robust.pipeline import create_pipeline

__all__ = ["create_pipeline"]
