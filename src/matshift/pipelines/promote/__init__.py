from matshift.pipelines.promote.pipeline import create_pipeline

__all__ = ["create_pipeline"]
