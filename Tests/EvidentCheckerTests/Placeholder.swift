// Tests of EvidentChecker.
