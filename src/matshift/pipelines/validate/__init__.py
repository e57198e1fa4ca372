from matshift.pipelines.validate.pipeline import create_pipeline

__all__ = ["create_pipeline"]
