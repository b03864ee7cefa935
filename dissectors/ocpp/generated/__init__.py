"""Code generated from the OCPP JSON schemas (tools/ocppschemagen)."""
