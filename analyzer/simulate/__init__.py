"""`chargescope simulate`: consistent multi-link demo captures from declarative scenarios."""
