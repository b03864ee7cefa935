"""Tests of link/IP/transport decode, reassembly and the pipeline."""
