// The certificate checker (trusted kernel).
