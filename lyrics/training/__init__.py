"""Training the generator: typed configs, the knowledge and sft data, the starting model, the loop."""
