// Evaluation (in progress)
