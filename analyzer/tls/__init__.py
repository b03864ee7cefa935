"""TLS key material (key logs from files, pcapng DSBs and in-band UDP) and TLS checks."""
