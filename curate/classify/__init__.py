"""fastText classifiers: model files checked before loading, training, and the scoring stages."""
