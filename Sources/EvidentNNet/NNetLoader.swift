// .nnet loader (in progress)
