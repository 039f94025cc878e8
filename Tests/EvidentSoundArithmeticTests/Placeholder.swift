// Tests of EvidentSoundArithmetic.
