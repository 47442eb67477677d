"""The model in use: batch scoring with its inference log, the drift check, the drift issue,
and folding a labelled batch into retraining.

It may import control (which model serves), the pipeline and the GitHub adapters.
"""
