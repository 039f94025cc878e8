// Tests of EvidentIO.
