"""Language models: the model, its one-token step decoder, generation, held-out evaluation,
loading a trained model and the training recipe."""
