"""OCPI 2.1.1 / 2.2.1 / 2.3.0 over HTTP (link C): routes, envelope, object validation."""
