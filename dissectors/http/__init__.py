"""HTTP/1.1 for link C (OCPI): a sans-I/O stream dissector over reassembled TCP."""
