from matshift.pipelines.featurize.pipeline import create_pipeline

__all__ = ["create_pipeline"]
