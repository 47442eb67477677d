"""The live model: a server that answers requests with the verified bytes git declares, follows
deploy/production.yaml as it changes (a rollout's shadow and canary included), logs every answer
to the inference log and measures itself.

It may import monitoring (the inference log), control (which model serves), the pipeline and
the GitHub adapters.
"""
