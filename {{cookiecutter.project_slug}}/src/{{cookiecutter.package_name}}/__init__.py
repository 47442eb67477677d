"""The model package: its data contract, pipeline stages and command line."""
