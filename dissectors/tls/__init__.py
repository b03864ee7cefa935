"""TLS: record layer, handshake decoding, key schedule, record decryption, stream dissector."""
