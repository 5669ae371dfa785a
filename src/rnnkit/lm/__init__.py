"""Language models: the model, its one-token stepper, generation, held-out evaluation,
loading a trained model and the training recipe."""
