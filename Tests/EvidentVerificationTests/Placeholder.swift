// Tests of EvidentVerification.
