"""The model's pipeline: the data contract, validation, the split, training and evaluation, and
how a run is tracked (MLflow) and traced (lineage). What DVC's stages run.

It may import the settings and nothing else of the package: it decides nothing about
production and knows nothing of GitHub.
"""
