// Verification: attacks, incomplete verification, LP refinement, branch and bound, verdicts.
