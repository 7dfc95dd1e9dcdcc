"""What the Rasa server loads besides the model: custom NLU components, channel and endpoint configuration."""
