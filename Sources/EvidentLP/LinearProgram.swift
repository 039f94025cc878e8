// GLPK wrapper (in progress)
