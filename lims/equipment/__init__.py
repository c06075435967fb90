"""Equipment: registry, calibration, maintenance, use-blocking and out-of-tolerance impact."""
